import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedPlan } from '../../../buildpack/cnb/build-plan.js';
import { escapeId, type BuildpackDescriptor } from '../../../buildpack/cnb/buildpack-descriptor.js';
import { BuildEnv } from '../../../buildpack/cnb/env-files.js';
import { extensionPath, type ExtensionDescriptor } from '../../../buildpack/cnb/extension-descriptor.js';
import { optionalString, parseToml, table, tables, toToml } from '../../../buildpack/cnb/toml.js';
import { ConfinedDir } from '../../../fs/confined-dir.js';
import type { BuildSession } from '../../../sandbox/build-session.js';
import { APP_DIR, LAYERS_DIR, PLATFORM_DIR, type StagingDirs } from '../paths.js';
import { StageError } from '../stage-error.js';
import { parseExtensionDockerfile, type DockerfileKind, type ExtensionDockerfile } from './dockerfile.js';

/** What one extension's generate left: its Dockerfiles, their build args and contexts (host directories). */
export interface GeneratedExtension {
  extension: ExtensionDescriptor;
  dockerfiles: { dockerfile: ExtensionDockerfile; args: Record<string, string>; context: string }[];
}

export interface GenerateInput {
  session: BuildSession;
  dirs: StagingDirs;
  baseEnv: Record<string, string>;
  user: { uid: number; gid: number };
  output: (text: string) => void;
}

/**
 * The generate phase (image_extension.md "Phase: Generation"): each extension of the
 * group in order runs bin/generate with its output dir (<layers>/generated/<id>, the
 * lifecycle's default), the platform dir and the plan entries it provided. Its
 * build.Dockerfile and run.Dockerfile are parsed at once (an unsupported instruction
 * fails here, before anything is built); its context is moved out of the container's
 * reach. A failing generate is exit 91, as the lifecycle's.
 */
export async function generate(
  input: GenerateInput,
  extensions: ExtensionDescriptor[],
  plan: ResolvedPlan<BuildpackDescriptor>,
): Promise<GeneratedExtension[]> {
  const { dirs, session, user } = input;
  const tree = dirs.layersTree;
  const own = { uid: user.uid, gid: user.gid };
  tree.mkdir('generated', own);
  const contexts = join(dirs.root, 'contexts');
  mkdirSync(contexts, { recursive: true, mode: 0o755 });
  const out: GeneratedExtension[] = [];
  for (const ext of extensions) {
    const esc = escapeId(ext.id);
    const outDir = `generated/${esc}`;
    tree.mkdir(outDir, own);
    const entries = plan.entries
      .filter((e) => e.providers.includes(ext))
      .flatMap((e) => e.requires.map((r) => ({ name: r.name, ...(r.metadata ? { metadata: r.metadata } : {}) })));
    const planFile = `generated/${esc}.plan.toml`;
    tree.writeFile(planFile, toToml({ entries }), own);
    let readFrom: { tree: ConfinedDir; dir: string; owned: boolean };
    if (existsSync(join(ext.dir, 'bin', 'generate'))) {
      const env = new BuildEnv(input.baseEnv);
      if (!ext.clearEnv) env.applyPlatformEnv(dirs.platformTree, 'env');
      const vars = {
        CNB_EXTENSION_DIR: extensionPath(ext),
        CNB_OUTPUT_DIR: `${LAYERS_DIR}/${outDir}`,
        CNB_PLATFORM_DIR: PLATFORM_DIR,
        CNB_BP_PLAN_PATH: `${LAYERS_DIR}/${planFile}`,
      };
      for (const [k, v] of Object.entries(vars)) env.apply(k, 'override', v);
      const r = await session.exec(
        {
          argv: [`${extensionPath(ext)}/bin/generate`, vars.CNB_OUTPUT_DIR, PLATFORM_DIR, vars.CNB_BP_PLAN_PATH],
          env: env.toList(),
          cwd: APP_DIR,
        },
        input.output,
      );
      if (r.exitCode !== 0) {
        const tail = r.output.trimEnd().split('\n').slice(-5).join('\n');
        throw new StageError(
          91,
          'generate',
          `image extension ${ext.id}@${ext.version}: bin/generate exited ${r.exitCode}${tail ? `:\n${tail}` : ''}`,
          { extension: ext.id },
        );
      }
      readFrom = { tree, dir: outDir, owned: true };
    } else {
      // No bin/generate: <extension>/generate is its output, as written (image_extension.md).
      readFrom = { tree: ConfinedDir.open(ext.dir), dir: 'generate', owned: false };
    }
    try {
      out.push(readOutputs(ext, readFrom, contexts, dirs.workspace));
    } finally {
      if (!readFrom.owned) readFrom.tree.close();
    }
  }
  tree.remove('generated');
  return out;
}

function readOutputs(
  ext: ExtensionDescriptor,
  from: { tree: ConfinedDir; dir: string; owned: boolean },
  contextsRoot: string,
  appDir: string,
): GeneratedExtension {
  const { tree, dir } = from;
  const config = tree.readText(`${dir}/extend-config.toml`);
  const args = config ? extendArgs(config, `image extension ${ext.id}: extend-config.toml`) : { build: {}, run: {} };
  const has = (name: string) => tree.isDirectory(`${dir}/${name}`);
  if (has('context') && (has('context.build') || has('context.run')))
    throw new StageError(
      91,
      'generate',
      `image extension ${ext.id}: its output has both context/ and context.build/ or context.run/ (use one or the other)`,
      { extension: ext.id },
    );
  const esc = escapeId(ext.id);
  const moved = new Map<string, string>();
  const contextFor = (kind: DockerfileKind): string => {
    const name = has(`context.${kind}`) ? `context.${kind}` : has('context') ? 'context' : undefined;
    if (!name) return appDir;
    if (!from.owned) return join(ext.dir, 'generate', name);
    const done = moved.get(name);
    if (done) return done;
    // Moved (not followed) out of the tree the build container writes: from here it is the host's directory.
    const target = `${esc}-${name}`;
    const host = ConfinedDir.open(contextsRoot);
    try {
      tree.rename(`${dir}/${name}`, target, host);
      if (!host.isDirectory(target))
        throw new StageError(91, 'generate', `image extension ${ext.id}: ${name} is not a directory`, {
          extension: ext.id,
        });
    } finally {
      host.close();
    }
    moved.set(name, join(contextsRoot, target));
    return join(contextsRoot, target);
  };
  const dockerfiles: GeneratedExtension['dockerfiles'] = [];
  // The build image first: it is extended before the build phase, the run image after it.
  for (const kind of ['build', 'run'] as const) {
    const text = tree.readText(`${dir}/${kind}.Dockerfile`);
    if (text === undefined) continue;
    dockerfiles.push({
      dockerfile: parseExtensionDockerfile(text, kind, ext.id),
      args: args[kind],
      context: contextFor(kind),
    });
  }
  return { extension: ext, dockerfiles };
}

/** extend-config.toml's `[[build.args]]` and `[[run.args]]`: name and value each. */
function extendArgs(text: string, what: string): Record<DockerfileKind, Record<string, string>> {
  const doc = parseToml(text, what);
  const read = (kind: DockerfileKind) =>
    Object.fromEntries(
      tables(table(doc[kind], `${what} [${kind}]`)['args'], `${what} [[${kind}.args]]`).map((a, i) => {
        const name = optionalString(a['name'], `${what} ${kind}.args[${i}].name`);
        const value = optionalString(a['value'], `${what} ${kind}.args[${i}].value`) ?? '';
        if (!name)
          throw new StageError(91, 'generate', `${what}: ${kind}.args[${i}] has no name`, {
            file: 'extend-config.toml',
          });
        return [name, value];
      }),
    );
  return { build: read('build'), run: read('run') };
}

/** The plan entries the buildpacks build from: those an extension met are its alone. */
export function buildpackPlan<B>(plan: ResolvedPlan<B>, isExt: (b: B) => boolean): ResolvedPlan<B> {
  return {
    group: plan.group.filter((b) => !isExt(b)),
    entries: plan.entries
      .map((e) => ({ ...e, providers: e.providers.filter((p) => !isExt(p)) }))
      .filter((e) => e.providers.length > 0),
  };
}
