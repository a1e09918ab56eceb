import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SlipwayError } from '../errors.js';
import type { HistoryEntry, ImageConfig, Platform } from '../oci/types.js';
import { hostPlatform } from '../oci/platform.js';
import { parseTransport } from '../oci/transport.js';
import { DescribedLayer } from '../image/described-layer.js';
import type { Image, Layer } from '../image/types.js';
import { pickImage } from '../image/pick.js';
import { extractLayer } from '../layer/extract.js';
import { defaultMtime } from '../layer/tree-walk.js';
import type { LocalStore, StoreLease } from '../store/local-store.js';
import { withSource } from '../transport/open.js';
import type { WrittenLayer } from '../copy/import-rootfs.js';
import { silentProgress, type Progress } from '../progress.js';
import { debianLayer, type DebianLayerSpec, type MadeLayer } from './debian-layer.js';
import { debianArch, fetchSuiteRelease, packageNames } from './debian-mirror.js';
import { readImageFacts } from './image-facts.js';
import { LayerCache } from './layer-cache.js';
import { mmdebstrapVersion, packageUnknown } from './mmdebstrap.js';
import {
  buildIncludes,
  packageName,
  runIncludes,
  type DebianRequest,
  type ImageRequest,
  type RootfsRequest,
  type StackRequest,
} from './request.js';
import { readRootfsFacts, type RootfsFacts } from './rootfs-facts.js';
import { writeRootfsLayer } from './rootfs-layer.js';
import { repositoryOf, storeImage } from './stack-catalog.js';
import { stackImage, type StackImageMeta } from './stack-image.js';
import type { StackRole } from './stack-labels.js';
import { userLayer } from './user-layer.js';

export interface BuildOptions {
  cacheDir: string;
  /** Bootstrap again even when the cache has this exact package set and mirror state. */
  refresh?: boolean;
  progress?: Progress;
}

export interface BuiltImage {
  image: Image;
  facts: RootfsFacts;
  /** True when no bootstrap ran (the layer came from the stack cache). */
  cached: boolean;
}

export interface BuiltStack {
  run: BuiltImage;
  build: BuiltImage;
}

const ROLES: StackRole[] = ['run', 'build'];

/**
 * Makes the run and build images of `request` and puts them, untagged, into NAME/run
 * and NAME/build under `lease` (publishing a version is the caller's decision).
 */
export async function buildStackImages(
  store: LocalStore,
  lease: StoreLease,
  name: string,
  request: StackRequest,
  options: BuildOptions,
): Promise<BuiltStack> {
  switch (request.source) {
    case 'debian':
      return buildFromDebian(store, lease, name, request, options);
    case 'rootfs':
      return buildFromRootfs(store, lease, name, request, options);
    case 'image':
      return buildFromImages(store, lease, name, request, options);
  }
}

async function buildFromDebian(
  store: LocalStore,
  lease: StoreLease,
  name: string,
  req: DebianRequest,
  options: BuildOptions,
): Promise<BuiltStack> {
  const progress = options.progress ?? silentProgress;
  const cache = new LayerCache(options.cacheDir);
  const arch = debianArch();
  progress.log(`checking ${req.mirror} for Debian ${req.suite}`);
  const release = await fetchSuiteRelease(req.mirror, req.suite);
  const includes = { run: runIncludes(req), build: buildIncludes(req) };
  const names = await packageNames(req.mirror, req.suite, release, arch, options.cacheDir);
  const missing = includes.build.filter((p) => names && !names.has(packageName(p)));
  if (missing.length) throw packageUnknown(missing, req.suite, req.mirror);

  const base: Omit<DebianLayerSpec, 'include'> = {
    suite: req.suite,
    mirror: req.mirror,
    arch,
    user: req.user,
    sourceDateEpoch: defaultMtime(),
    mirrorState: release.fingerprint,
    mmdebstrapVersion: await mmdebstrapVersion(),
  };
  // Both bootstraps at once (mostly downloads and dpkg); the first failure stops the other.
  const stop = new AbortController();
  const settled = await Promise.allSettled(
    ROLES.map((role) =>
      debianLayer(
        lease,
        cache,
        { ...base, include: includes[role] },
        { label: `${role} image`, progress, signal: stop.signal, ...(options.refresh ? { refresh: true } : {}) },
      ).catch((err: unknown) => {
        stop.abort();
        throw err;
      }),
    ),
  );
  const failed =
    settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && !isAbortedRun(s.reason)) ??
    settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const [run, build] = settled.map((s) => (s as PromiseFulfilledResult<MadeLayer>).value) as [MadeLayer, MadeLayer];

  const created = defaultMtime();
  const made = async (role: StackRole, m: MadeLayer): Promise<BuiltImage> => {
    const history: HistoryEntry[] = [
      {
        created: isoTime(created),
        created_by: `mmdebstrap --variant=minbase --include=${includes[role].join(',')} ${req.suite} ${req.mirror}; useradd ${req.user.name}`,
      },
    ];
    const meta: StackImageMeta = {
      name,
      role,
      request: req,
      packages: m.facts.packages,
      os: m.facts.os,
      platform: hostPlatform(),
      created,
      mirrorState: `sha256:${release.fingerprint}`,
      origin: `Debian ${m.facts.os.versionId ?? ''} (${req.suite}) minbase + ${includes[role].join(', ')}`.replace(
        '  ',
        ' ',
      ),
    };
    const image = stackImage([describedLayer(m.layer)], history, meta);
    await storeImage(store, lease, repositoryOf(name, role), image);
    return { image, facts: m.facts, cached: m.cached };
  };
  return { run: await made('run', run), build: await made('build', build) };
}

async function buildFromRootfs(
  store: LocalStore,
  lease: StoreLease,
  name: string,
  req: RootfsRequest,
  options: BuildOptions,
): Promise<BuiltStack> {
  const progress = options.progress ?? silentProgress;
  const out: Partial<BuiltStack> = {};
  for (const role of ROLES) {
    const source = resolve(req[role]);
    progress.log(`${role} image: layer from ${source}`);
    const { layer, facts } = await rootfsLayer(lease, source);
    const layers: Layer[] = [describedLayer(layer)];
    const history: HistoryEntry[] = [
      { created: isoTime(defaultMtime()), created_by: `slipway stack create --from-rootfs (${role})` },
    ];
    const added = await userLayer(lease, facts, req.user, `the ${role} rootfs ${source}`);
    if (added) {
      layers.push(describedLayer(added));
      history.push({
        created: isoTime(defaultMtime()),
        created_by: `slipway stack: add user ${req.user.name} ${req.user.uid}:${req.user.gid}`,
      });
    }
    const image = stackImage(layers, history, metaFor(name, role, req, facts, hostPlatform(), `rootfs ${source}`));
    await storeImage(store, lease, repositoryOf(name, role), image);
    out[role] = { image, facts, cached: false };
  }
  return out as BuiltStack;
}

async function buildFromImages(
  store: LocalStore,
  lease: StoreLease,
  name: string,
  req: ImageRequest,
  options: BuildOptions,
): Promise<BuiltStack> {
  const progress = options.progress ?? silentProgress;
  const out: Partial<BuiltStack> = {};
  for (const role of ROLES) {
    progress.log(`${role} image: from ${req[role]}`);
    out[role] = await withSource(
      parseTransport(req[role]),
      async () => store,
      async (src) => {
        const { image: source } = await pickImage(src.artifact);
        const config = await source.config();
        const facts = await readImageFacts(source);
        const layers = await source.layers();
        const history: HistoryEntry[] = [...(config.history ?? [])];
        const added = await userLayer(lease, facts, req.user, `the ${role} image ${req[role]}`);
        if (added) {
          layers.push(describedLayer(added));
          history.push({
            created: isoTime(defaultMtime()),
            created_by: `slipway stack: add user ${req.user.name} ${req.user.uid}:${req.user.gid}`,
          });
        }
        const platform: Platform = {
          os: config.os,
          architecture: config.architecture,
          ...(config.variant ? { variant: config.variant } : {}),
        };
        const image = stackImage(
          layers,
          history,
          metaFor(name, role, req, facts, platform, `image ${req[role]}`),
          config as ImageConfig,
        );
        // Stored inside withSource: the source's blobs (an unpacked archive) are gone afterwards.
        await storeImage(store, lease, repositoryOf(name, role), image);
        return { image, facts, cached: false };
      },
    );
  }
  return out as BuiltStack;
}

function metaFor(
  name: string,
  role: StackRole,
  request: StackRequest,
  facts: RootfsFacts,
  platform: Platform,
  origin: string,
): StackImageMeta {
  return { name, role, request, packages: facts.packages, os: facts.os, platform, created: defaultMtime(), origin };
}

/** A directory as it is, or a tarball (tar, tar.gz, tar.zst) unpacked first, as one deterministic layer. */
async function rootfsLayer(lease: StoreLease, source: string): Promise<{ layer: WrittenLayer; facts: RootfsFacts }> {
  const st = await stat(source).catch((err) => {
    throw new SlipwayError(
      'NOT_FOUND',
      `rootfs ${source} does not exist: give a directory or a tarball (tar, tar.gz, tar.zst)`,
      { cause: err },
    );
  });
  if (st.isDirectory())
    return { facts: await readRootfsFacts(source, debianArch()), layer: await writeRootfsLayer(lease, source) };
  const dir = await mkdtemp(join(process.env['SLIPWAY_STACK_TMPDIR'] ?? tmpdir(), 'slipway-stack-rootfs-'));
  try {
    await extractLayer(createReadStream(source, { highWaterMark: 1 << 20 }), dir);
    return { facts: await readRootfsFacts(dir, debianArch()), layer: await writeRootfsLayer(lease, dir) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function describedLayer(l: WrittenLayer): Layer {
  return new DescribedLayer(l.mediaType, l.digest, l.size, l.diffId);
}

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

function isAbortedRun(err: unknown): boolean {
  return err instanceof SlipwayError && err.detail?.aborted === true;
}
