import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiAtLeast, escapeId, type BuildpackDescriptor } from '../../buildpack/cnb/buildpack-descriptor.js';
import type { Require, ResolvedPlan } from '../../buildpack/cnb/build-plan.js';
import { BuildEnv } from '../../buildpack/cnb/env-files.js';
import { classifySbomFiles, type SbomFile } from '../../buildpack/cnb/sbom.js';
import {
  readLaunchToml,
  readLayerToml,
  readStore,
  readUnmet,
  type LaunchProcess,
  type LayerMetadata,
} from '../../buildpack/cnb/layer-files.js';
import { toToml, type TomlTable } from '../../buildpack/cnb/toml.js';
import type { BuildSession } from '../../sandbox/build-session.js';
import { APP_DIR, LAYERS_DIR, PLATFORM_DIR, buildpackPath, type StagingDirs } from './paths.js';
import { SlipwayError } from '../../errors.js';
import { unsafePath } from '../../fs/confined-dir.js';
import { StageError } from './stage-error.js';

/** A layer a buildpack left, as the exporter and the cache need it. */
export interface BuiltLayer {
  name: string;
  types: LayerMetadata;
  /** False when the buildpack kept only `<layer>.toml` (reuse the previous image's layer). */
  hasContents: boolean;
}

export interface BuiltBuildpack {
  buildpack: BuildpackDescriptor;
  layers: BuiltLayer[];
  store?: TomlTable;
  /** Its SBOM files (`<layer>.sbom.<ext>`, `launch.sbom.<ext>`, `build.sbom.<ext>`), checked against sbom-formats. */
  sbom: SbomFile[];
}

export interface BuildReport {
  buildpacks: BuiltBuildpack[];
  processes: LaunchProcess[];
  defaultProcess?: string;
  labels: Record<string, string>;
  slices: string[][];
}

export interface BuilderOptions {
  session: BuildSession;
  dirs: StagingDirs;
  baseEnv: Record<string, string>;
  user: { uid: number; gid: number };
  /** Buildpack output, as it comes. */
  output: (text: string) => void;
}

/** An SBOM file is read into memory to be copied: more than this is refused. */
const SBOM_MAX_BYTES = 64 << 20;

/** Layer names a buildpack may not use (buildpack.md). */
const NOT_LAYERS = new Set(['launch', 'build', 'store']);

/**
 * The build phase (platform.md "builder"): each buildpack of the group in order runs
 * bin/build with its layers dir, the platform dir and its buildpack plan; build
 * layers' env reaches later buildpacks; processes, labels and slices are merged;
 * unmet plan entries go on to the next provider. A failing buildpack is exit 51.
 */
export class Builder {
  constructor(private readonly options: BuilderOptions) {}

  async build(plan: ResolvedPlan<BuildpackDescriptor>): Promise<BuildReport> {
    const { dirs, user } = this.options;
    const tree = dirs.layersTree;
    const env = new BuildEnv(this.options.baseEnv);
    let entries = plan.entries.map((e) => ({ ...e }));
    const report: BuildReport = { buildpacks: [], processes: [], labels: {}, slices: [] };
    // As the lifecycle's builder: <layers>/sbom is made afresh from what this build's buildpacks write.
    tree.remove('sbom');
    for (const bp of plan.group) {
      const esc = escapeId(bp.id);
      tree.mkdir(esc, { uid: user.uid, gid: user.gid });
      const mine = entries.filter((e) => e.providers.includes(bp));
      const requires: Require[] = mine.flatMap((e) => e.requires);
      const planDir = join(dirs.control, 'bpplan', esc);
      mkdirSync(planDir, { recursive: true });
      writeFileSync(
        join(planDir, 'plan.toml'),
        toToml({ entries: requires.map((r) => ({ name: r.name, ...(r.metadata ? { metadata: r.metadata } : {}) })) }),
      );
      const planPath = `/slipway/bpplan/${esc}/plan.toml`;
      const bpEnv = env.clone();
      if (!bp.clearEnv) bpEnv.applyPlatformEnv(dirs.platformTree, 'env');
      bpEnv.apply('CNB_BUILDPACK_DIR', 'override', buildpackPath(bp));
      if (apiAtLeast(bp.api, '0.8')) {
        bpEnv.apply('CNB_LAYERS_DIR', 'override', `${LAYERS_DIR}/${esc}`);
        bpEnv.apply('CNB_PLATFORM_DIR', 'override', PLATFORM_DIR);
        bpEnv.apply('CNB_BP_PLAN_PATH', 'override', planPath);
      }
      if (apiAtLeast(bp.api, '0.12')) bpEnv.apply('CNB_EXEC_ENV', 'override', 'production');
      this.options.output(`===> ${bp.id}@${bp.version}\n`);
      const { exitCode } = await this.options.session.exec(
        {
          argv: [`${buildpackPath(bp)}/bin/build`, `${LAYERS_DIR}/${esc}`, PLATFORM_DIR, planPath],
          env: bpEnv.toList(),
          cwd: APP_DIR,
        },
        this.options.output,
      );
      if (exitCode !== 0)
        throw new StageError(
          51,
          'build',
          `buildpack ${bp.id}@${bp.version} failed (bin/build exited with ${exitCode})`,
          { buildpack: bp.id, buildpackExitCode: exitCode },
        );

      const layers = wrap(bp, () => this.#collectLayers(esc));
      for (const layer of layers) {
        if (!layer.types.build || !layer.hasContents) continue;
        const at = `${esc}/${layer.name}`;
        wrap(bp, () => {
          env.addLayerPaths(tree, at, `${LAYERS_DIR}/${at}`);
          env.applyDir(tree, `${at}/env`);
          env.applyDir(tree, `${at}/env.build`);
        });
      }
      const launch = wrap(bp, () => readLaunchToml(tree, `${esc}/launch.toml`, bp.id, bp.api));
      for (const p of launch.processes) {
        report.processes = report.processes.filter((q) => q.type !== p.type);
        report.processes.push(p);
        if (p.default) report.defaultProcess = p.type;
        else if (report.defaultProcess === p.type) delete report.defaultProcess;
      }
      for (const l of launch.labels) report.labels[l.key] = l.value;
      report.slices.push(...launch.slices);
      const unmet = wrap(bp, () => readUnmet(tree, `${esc}/build.toml`, bp.id));
      const unknown = unmet.filter((u) => !requires.some((r) => r.name === u));
      if (unknown.length)
        throw new StageError(
          51,
          'build',
          `buildpack ${bp.id}: build.toml lists unmet "${unknown.join('", "')}" that is not in its plan`,
          { buildpack: bp.id },
        );
      entries = entries.filter((e) => !e.providers.includes(bp) || unmet.includes(e.requires[0]!.name));
      const store = wrap(bp, () => readStore(tree, `${esc}/store.toml`, bp.id));
      const sbom = wrap(bp, () =>
        classifySbomFiles(
          tree.readdir(esc) ?? [],
          (name) => {
            const layer = layers.find((l) => l.name === name);
            // A layer with every type false (now <layer>.ignore) still has its toml: its SBOM counts as build.
            return layer
              ? layer.types
              : tree.lstat(`${esc}/${name}.toml`)
                ? { launch: false, cache: false }
                : undefined;
          },
          bp.sbomFormats ?? [],
          `${bp.id}@${bp.version}`,
        ),
      );
      report.buildpacks.push({ buildpack: bp, layers, ...(store ? { store } : {}), sbom });
    }
    this.#copySboms(report.buildpacks);
    return report;
  }

  /**
   * Launch SBOMs to <layers>/sbom/launch/<bp>/[<layer>/]sbom.<ext> (the exporter's SBOM layer) and
   * build SBOMs to <layers>/sbom/build/..., as the lifecycle's copySBOMFiles. Cache SBOMs stay
   * next to their layer (the build cache keeps them with it).
   */
  #copySboms(built: BuiltBuildpack[]): void {
    const tree = this.options.dirs.layersTree;
    for (const b of built) {
      const esc = escapeId(b.buildpack.id);
      for (const f of b.sbom.filter((x) => x.kind !== 'cache')) {
        const dir = ['sbom', f.kind, esc, ...(f.layer ? [f.layer] : [])].join('/');
        const content = wrap(b.buildpack, () => tree.readFile(`${esc}/${f.file}`, SBOM_MAX_BYTES));
        if (content === undefined) continue;
        tree.mkdir(dir, { mode: 0o755 });
        tree.writeFile(`${dir}/${f.name}`, content, { mode: 0o644 });
      }
    }
  }

  /** The layers a buildpack left (by `<layer>.toml`), sorted by name; layers with no type set become `<layer>.ignore`. */
  #collectLayers(esc: string): BuiltLayer[] {
    const tree = this.options.dirs.layersTree;
    const out: BuiltLayer[] = [];
    for (const file of tree.readdir(esc) ?? []) {
      if (!file.endsWith('.toml')) continue;
      const name = file.slice(0, -'.toml'.length);
      if (NOT_LAYERS.has(name)) continue;
      const types = readLayerToml(tree, `${esc}/${file}`);
      const st = tree.lstat(`${esc}/${name}`);
      // A layer is a real directory: a link there (to anywhere) is refused, not followed.
      if (st?.isSymbolicLink())
        throw unsafePath(`${tree.path}/${esc}/${name}`, 'a layer must be a directory, and this is a symlink');
      const hasContents = st?.isDirectory() ?? false;
      if (!types.launch && !types.build && !types.cache) {
        if (hasContents) tree.rename(`${esc}/${name}`, `${esc}/${name}.ignore`);
        continue;
      }
      out.push({ name, types, hasContents });
    }
    return out;
  }
}

function wrap<T>(bp: BuildpackDescriptor, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof StageError) throw err;
    // What the buildpack left is wrong (bad TOML) or refused (a link out of its layers): its failure, exit 51.
    const code = err instanceof SlipwayError && err.code === 'UNSAFE_PATH' ? 'UNSAFE_PATH' : 'INVALID_DOCUMENT';
    throw new StageError(
      51,
      'build',
      `buildpack ${bp.id}@${bp.version}: ${(err as Error).message}`,
      { buildpack: bp.id },
      code,
    );
  }
}
