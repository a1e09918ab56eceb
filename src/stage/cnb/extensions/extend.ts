import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { append, withContainerConfig } from '../../../image/mutate.js';
import type { Image } from '../../../image/types.js';
import type { TarEntry } from '../../../layer/entry.js';
import { writeLayer } from '../../../layer/layer-writer.js';
import { overlayUpperEntries } from '../../../layer/overlay.js';
import { walkTree } from '../../../layer/tree-walk.js';
import type { Digest } from '../../../oci/digest.js';
import { parseTransport } from '../../../oci/transport.js';
import type { Progress } from '../../../progress.js';
import type { ContainerRuntime } from '../../../runtime/containers.js';
import { BuildSession, ROOT_BUILD_CAPABILITIES } from '../../../sandbox/build-session.js';
import type { BuildVolume } from '../../../sandbox/build-volume.js';
import type { SandboxLimits } from '../../../sandbox/limits.js';
import type { BuildNetwork } from '../../../sandbox/network.js';
import type { LocalStore } from '../../../store/local-store.js';
import { readLocal } from '../../../transport/local.js';
import { DEFAULT_EXCLUDES, excludedBy } from '../../classic/full-fs-excludes.js';
import { LayerOutput, type KnownLayer } from '../../layer-output.js';
import { StageError } from '../stage-error.js';
import { substitute, type DockerfileKind, type ExtensionDockerfile, type Instruction } from './dockerfile.js';

/** Where an extension's context is mounted while its Dockerfile runs (left out of the layer). */
const CONTEXT_DIR = '/.slipway-context';
const CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

/** The repository extended images are kept in, tagged by what made them (so a warm build takes them as they are). */
export function extendedRepository(kind: DockerfileKind): string {
  return `slipway/extended-${kind}`;
}

/** An image in the local store, by repository and digest. */
export interface StoredImage {
  repository: string;
  digest: Digest;
  image: Image;
}

export interface ExtendStep {
  dockerfile: ExtensionDockerfile;
  /** Build args from the extension's extend-config.toml. */
  args: Record<string, string>;
  /** The host directory COPY copies from. */
  context: string;
}

export interface ExtendInput {
  store: LocalStore;
  runtime: ContainerRuntime;
  volume: BuildVolume;
  limits: SandboxLimits;
  network: BuildNetwork;
  kind: DockerfileKind;
  base: StoredImage;
  steps: ExtendStep[];
  /** Seconds since the epoch for the new layers' files and history. */
  created: number;
  caFile?: string | false;
  progress: Progress;
  output: (text: string) => void;
}

export interface ExtendReport extends StoredImage {
  /** The extensions whose Dockerfile changed the image, in order, and whether each layer was taken from an earlier build. */
  applied: { extension: string; reused: boolean; diffId?: Digest }[];
  /** A run.Dockerfile switched the run image to this name (FROM <image>). */
  switchedTo?: string;
  /** Every applied run.Dockerfile labelled itself io.buildpacks.rebasable=true (spec: then the app stays rebasable). */
  rebasable: boolean;
  /** The image the new layers sit on (the base, or the one switched to) and its top layer. */
  base: { repository: string; digest: Digest; topLayer?: Digest };
}

/**
 * The extend phase (image_extension.md "Phase: Extension", the lifecycle's extender)
 * without a daemon: each Dockerfile in order runs as root in a sandboxed container
 * whose root is an overlay over the image so far (full-filesystem staging's session),
 * with the spec's build args (base_image, build_id, user_id, group_id and the
 * extension's own); the overlay's upper directory becomes one layer, written by the
 * deterministic writer, and ENV, LABEL, USER and WORKDIR change the config. Each
 * result is kept in the store tagged by its inputs, so an unchanged Dockerfile on the
 * same base costs nothing the next time (unless it uses build_id, whose point is to
 * run again).
 */
export async function extendImage(input: ExtendInput): Promise<ExtendReport> {
  let current = input.base;
  let origin = input.base;
  const applied: ExtendReport['applied'] = [];
  let switchedTo: string | undefined;
  let rebasable = true;
  for (const step of input.steps) {
    const df = step.dockerfile;
    if (df.switchTo) {
      current = await switchImage(input.store, df.switchTo, df.extension);
      origin = current;
      switchedTo = df.switchTo;
      applied.length = 0;
    }
    if (df.instructions.length === 0) continue;
    if (
      df.kind === 'run' &&
      !df.instructions.some(
        (i) => i.op === 'LABEL' && i.pairs.some(([k, v]) => k === 'io.buildpacks.rebasable' && v === 'true'),
      )
    )
      rebasable = false;
    const key = await stepKey(current, step);
    const repository = extendedRepository(input.kind);
    const cached = key ? await stored(input.store, repository, key) : undefined;
    if (cached) {
      input.progress.log(`${df.extension}: ${df.kind}.Dockerfile unchanged, its layer is reused`);
      current = cached;
      applied.push({ extension: df.extension, reused: true });
      continue;
    }
    input.progress.log(`${df.extension}: applying ${df.kind}.Dockerfile (as root, in the sandbox)`);
    const next = await applyDockerfile(input, current, step);
    const tag = key ?? `b-${randomUUID().replaceAll('-', '')}`;
    current = await keep(input.store, repository, tag, next.image);
    applied.push({ extension: df.extension, reused: false, diffId: next.diffId });
  }
  if (input.kind === 'run' && input.steps.some((s) => s.dockerfile.instructions.some((i) => i.op === 'USER'))) {
    const user = (await current.image.config()).config?.User ?? '';
    if (user === '' || /^(0|root)(:|$)/.test(user))
      throw new StageError(
        102,
        'extend',
        `the extended run image's user is root ("${user}") after the run.Dockerfiles: end them with USER \${user_id}:\${group_id}`,
        { kind: input.kind },
      );
  }
  const ids = (await origin.image.config()).rootfs.diff_ids;
  const topLayer = ids[ids.length - 1];
  return {
    ...current,
    applied,
    ...(switchedTo ? { switchedTo } : {}),
    rebasable,
    base: { repository: origin.repository, digest: origin.digest, ...(topLayer ? { topLayer } : {}) },
  };
}

/** A run image a run.Dockerfile's plain FROM names: an image in the local store. */
async function switchImage(store: LocalStore, name: string, extension: string): Promise<StoredImage> {
  const at = name.indexOf('@');
  const colon = name.lastIndexOf(':');
  const [repository, ref] =
    at > 0
      ? [name.slice(0, at), name.slice(at + 1)]
      : colon > name.lastIndexOf('/')
        ? [name.slice(0, colon), name.slice(colon + 1)]
        : [name, 'latest'];
  try {
    const { artifact, descriptor } = await readLocal(store, repository, ref);
    if (artifact.kind !== 'image') throw new Error('an index');
    return { repository, digest: descriptor.digest, image: artifact.image };
  } catch (err) {
    throw new StageError(
      102,
      'extend',
      `image extension ${extension}: run.Dockerfile switches to ${name}, which is not an image in the local store (pull it first: slipway pull ${name})`,
      { extension, image: name, cause: (err as Error).message },
    );
  }
}

/** What makes a step's result: the base, the text, the args (but a fresh build_id), the context when it is copied from. */
async function stepKey(base: StoredImage, step: ExtendStep): Promise<string | undefined> {
  if (step.dockerfile.usesBuildId) return undefined;
  const h = createHash('sha256');
  h.update(JSON.stringify({ base: base.digest, text: step.dockerfile.text, args: step.args }));
  if (step.dockerfile.instructions.some((i) => i.op === 'COPY')) {
    const tree = await writeLayer(
      walkTree(step.context, { mtime: 0 }),
      { write: async () => undefined },
      {
        compression: 'none',
      },
    );
    h.update(tree.diffId);
  }
  return `k-${h.digest('hex').slice(0, 40)}`;
}

async function stored(store: LocalStore, repository: string, tag: string): Promise<StoredImage | undefined> {
  try {
    const { artifact, descriptor } = await readLocal(store, repository, tag);
    return artifact.kind === 'image' ? { repository, digest: descriptor.digest, image: artifact.image } : undefined;
  } catch {
    return undefined;
  }
}

async function keep(store: LocalStore, repository: string, tag: string, image: Image): Promise<StoredImage> {
  const desc = await store.withLease(async (lease) => {
    await lease.putBytes(await image.rawConfig());
    return store.putManifest(repository, await image.rawManifest(), await image.mediaType(), [tag], lease);
  });
  // Read back from the store: a later build that reuses it sees these exact bytes, so cold and warm builds agree.
  const back = await stored(store, repository, desc.digest);
  return back ?? { repository, digest: desc.digest, image };
}

/** The config state a Dockerfile changes as it goes. */
interface State {
  env: Map<string, string>;
  user: string;
  workdir: string;
  labels: Record<string, string>;
  args: Record<string, string>;
}

async function applyDockerfile(
  input: ExtendInput,
  base: StoredImage,
  step: ExtendStep,
): Promise<{ image: Image; diffId: Digest }> {
  const df = step.dockerfile;
  const config = (await base.image.config()).config ?? {};
  const env = new Map((config.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const [uid, gid] = imageUser(config.User ?? '', env);
  const given: Record<string, string> = {
    ...step.args,
    base_image: `${base.repository}@${base.digest}`,
    build_id: randomUUID(),
    user_id: String(uid),
    group_id: String(gid),
  };
  const state: State = { env, user: config.User ?? '', workdir: config.WorkingDir || '/', labels: {}, args: {} };
  const root = mkdtempSync(join(input.volume.mountPoint, 'extend-'));
  const caFile = input.caFile === false ? undefined : (input.caFile ?? process.env['SSL_CERT_FILE'] ?? CA_FILE);
  let session: BuildSession | undefined = await BuildSession.start(input.runtime, {
    image: {
      ref: parseTransport(`${base.repository}@${base.digest}`),
      label: base.repository,
      store: async () => input.store,
    },
    user: { uid: 0, gid: 0 },
    capabilities: ROOT_BUILD_CAPABILITIES,
    controlDir: join(root, 'control'),
    network: input.network,
    limits: input.limits,
    volume: input.volume,
    binds: [
      { source: resolve(step.context), destination: CONTEXT_DIR, readonly: true },
      ...(caFile && existsSync(caFile) ? [{ source: resolve(caFile), destination: CA_FILE, readonly: true }] : []),
    ],
  });
  try {
    for (const ins of df.instructions) await execute(session, ins, state, given, df, input.output);
    const upper = session.upperDir;
    await session.stop();
    session = undefined;
    const skip = excludedBy([...DEFAULT_EXCLUDES, CONTEXT_DIR, CA_FILE, 'slipway']);
    const entries = async function* (): AsyncGenerator<TarEntry> {
      for await (const e of overlayUpperEntries(upper, {
        mtime: input.created,
        owner: { kind: 'keep' },
        beneath: input.volume.mountPoint,
      }))
        if (!skip(e.path)) yield e;
    };
    const layer = await input.store.withLease(async (lease) => {
      const r = await new LayerOutput(lease, new Map<Digest, KnownLayer>()).write(entries);
      return r;
    });
    const time = new Date(input.created * 1000).toISOString().replace('.000Z', 'Z');
    let image = await append(base.image, {
      layer: layer.layer,
      history: { created: time, created_by: `image extension ${df.extension}: ${df.kind}.Dockerfile` },
    });
    image = await withContainerConfig(image, (c) => ({
      ...c,
      Env: [...state.env].map(([k, v]) => `${k}=${v}`),
      ...(state.user ? { User: state.user } : {}),
      WorkingDir: state.workdir,
      Labels: { ...(c.Labels ?? {}), ...state.labels },
    }));
    return { image, diffId: layer.known.diffId };
  } finally {
    if (session) await session.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

/** uid and gid of an image's User ("1000:1000", "1000"); a name falls back on CNB_USER_ID/CNB_GROUP_ID, else 0. */
function imageUser(user: string, env: Map<string, string>): [number, number] {
  const [u, g] = user.split(':');
  const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);
  const uid = num(u) ?? num(env.get('CNB_USER_ID')) ?? 0;
  return [uid, num(g) ?? num(env.get('CNB_GROUP_ID')) ?? (num(u) !== undefined ? uid : 0)];
}

async function execute(
  session: BuildSession,
  ins: Instruction,
  state: State,
  given: Record<string, string>,
  df: ExtensionDockerfile,
  output: (text: string) => void,
): Promise<void> {
  const vars = () => ({ ...Object.fromEntries(state.env), ...state.args });
  const sub = (v: string) => substitute(v, vars());
  const where = `image extension ${df.extension}: ${df.kind}.Dockerfile line ${ins.line}`;
  const run = async (argv: string[], asUser: string, what: string, cwd = '/') => {
    const drop = asUser && !/^(0|root)(:(0|root))?$/.test(asUser) ? setpriv(asUser) : [];
    const env = [
      ...(state.env.has('PATH') ? [] : ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']),
      ...Object.entries(state.args).map(([k, v]) => `${k}=${v}`),
      ...[...state.env].map(([k, v]) => `${k}=${v}`),
    ];
    const r = await session.exec({ argv: [...drop, ...argv], env, cwd }, output);
    if (r.exitCode !== 0) {
      const tail = r.output.trimEnd().split('\n').slice(-5).join('\n');
      throw new StageError(102, 'extend', `${where}: ${what} exited ${r.exitCode}${tail ? `:\n${tail}` : ''}`, {
        extension: df.extension,
        file: `${df.kind}.Dockerfile`,
        line: ins.line,
      });
    }
  };
  switch (ins.op) {
    case 'ARG':
      state.args[ins.name] = given[ins.name] ?? (ins.default !== undefined ? sub(ins.default) : '');
      return;
    case 'ENV':
      for (const [k, v] of ins.pairs) state.env.set(k, sub(v));
      return;
    case 'LABEL':
      for (const [k, v] of ins.pairs) state.labels[sub(k)] = sub(v);
      return;
    case 'USER':
      state.user = sub(ins.user);
      return;
    case 'WORKDIR':
      state.workdir = posix.resolve(state.workdir, sub(ins.path));
      await run(['mkdir', '-p', state.workdir], '', 'WORKDIR');
      return;
    case 'RUN': {
      await run(ins.shell ? ['/bin/sh', '-c', ins.command[0]!] : ins.command, state.user, 'RUN', state.workdir);
      return;
    }
    case 'COPY': {
      const sources = ins.sources.map((s) => {
        const rel = posix.normalize(sub(s)).replace(/^\/+/, '');
        if (rel === '..' || rel.startsWith('../'))
          throw new StageError(102, 'extend', `${where}: COPY ${s} is outside the extension's context`, {
            extension: df.extension,
          });
        return posix.join(CONTEXT_DIR, rel);
      });
      const dest = posix.resolve(state.workdir, sub(ins.dest)) + (ins.dest.endsWith('/') ? '/' : '');
      await run(['/bin/sh', '-c', COPY_SCRIPT, 'copy', ins.chown ? sub(ins.chown) : '', dest, ...sources], '', 'COPY');
      return;
    }
    case 'FROM':
      return;
  }
}

/**
 * COPY as Docker does it: a directory's contents go into the destination, a file goes
 * to the destination (into it when it ends in "/" or there are several sources); the
 * copies are root's, or --chown's.
 */
const COPY_SCRIPT = `set -e
owner=$1; dest=$2; shift 2
into=no; [ $# -gt 1 ] && into=yes; case "$dest" in */) into=yes ;; esac
for src in "$@"; do
  if [ -d "$src" ]; then mkdir -p "$dest"; cp -R --preserve=mode,timestamps,links "$src/." "$dest/"; [ -z "$owner" ] || chown -R "$owner" "$dest"
  elif [ "$into" = yes ]; then mkdir -p "$dest"; cp -P --preserve=mode,timestamps "$src" "$dest/"; [ -z "$owner" ] || chown -h "$owner" "$dest/$(basename "$src")"
  else mkdir -p "$(dirname "$dest")"; cp -P --preserve=mode,timestamps "$src" "$dest"; [ -z "$owner" ] || chown -h "$owner" "$dest"
  fi
done
`;

/** Runs the rest as USER (uid, name, uid:gid) with setpriv (util-linux, in every Debian image). */
function setpriv(user: string): string[] {
  const [u, g] = user.split(':');
  return ['setpriv', `--reuid=${u}`, `--regid=${g ?? u}`, '--clear-groups', '--'];
}
