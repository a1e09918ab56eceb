import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { TreeReader } from '../tree-reader.js';
import { ClassicExit, ClassicStageError } from './classic-error.js';
import type { ClassicBuildpack } from './buildpack-source.js';
import { herokuBuildpackName } from './buildpack-kind.js';
import { depsIndex } from './deps-index.js';
import { parseRelease, readDepsConfig, readLaunchYml, readProcfile } from './process-files.js';

/** CF's staging paths inside the build container (the Diego task's). */
export const ContainerPaths = {
  app: '/tmp/app',
  deps: '/tmp/deps',
  profile: '/tmp/profile.d',
  cache: '/tmp/cache',
  buildpacks: '/tmp/buildpacks',
  /** Heroku's ENV_DIR (3rd argument of bin/compile): one file per app env var. */
  env: '/tmp/env',
} as const;

/**
 * Host access to a directory mounted into the build container: reads and changes that
 * follow no link the scripts could have made (a ConfinedDir from src/fs).
 */
export interface ContainerDir extends TreeReader {
  mkdir(rel: string, own?: { uid?: number; gid?: number; mode?: number }): void;
  remove(rel: string): void;
}

/** The host directories mounted at ContainerPaths. */
export interface HostDirs {
  app: ContainerDir;
  deps: ContainerDir;
  cache: ContainerDir;
  /** The stack user, who must own what the builder creates for the scripts (deps/IDX, cache dirs). */
  owner: { uid: number; gid: number };
}

/** Runs a buildpack script in the build container; `stdoutOnly` keeps stderr out of `stdout` (detect, release). */
export interface ScriptRunner {
  run(
    argv: string[],
    env: Record<string, string>,
    options: { sourceExports: string[]; stdoutOnly?: boolean },
  ): Promise<{ exitCode: number; stdout: string }>;
}

export interface ClassicBuildResult {
  buildpacks: { key: string; name: string; version?: string; config?: Record<string, unknown> }[];
  detectOutput?: string;
  /** The last buildpack's name (staging_info.yml detected_buildpack). */
  detectedBuildpack: string;
  processTypes: Record<string, string>;
  warnings: string[];
}

/**
 * CF's buildpack builder (buildpackapplifecycle buildpackrunner/runner.go), step by
 * step. Detect mode (`skipDetect` false): the first buildpack whose bin/detect exits 0
 * is the only one, IDX "0"; none is exit 222. Named mode: all but the last supply
 * (bin/supply BUILD CACHE DEPS IDX; missing or failing: 225), the last finalizes
 * (bin/supply then bin/finalize BUILD CACHE DEPS IDX PROFILE_DIR) or, without
 * bin/finalize, compiles (bin/compile BUILD CACHE, two arguments as CF gives them; its
 * deps/IDX is removed); a failure is 223. Process types from supply buildpacks'
 * launch.yml, the last one's launch.yml or else its bin/release (224 on failure), then
 * the Procfile on top. Every script runs after sourcing the `export` files earlier
 * buildpacks wrote in their dir.
 *
 * Heroku's way, when every named buildpack is compile-only (no bin/supply, no
 * bin/finalize): each one's bin/compile BUILD CACHE ENV_DIR in order on the same build
 * dir, each seeing the `export` of the ones before (`heroku buildpacks:add`), and the
 * process types of every bin/release, a later one winning (the last buildpack is the
 * app's primary language).
 */
export class ClassicBuilder {
  constructor(
    private readonly runner: ScriptRunner,
    private readonly host: HostDirs,
    private readonly log: (line: string) => void,
  ) {}

  async build(
    buildpacks: ClassicBuildpack[],
    env: Record<string, string>,
    skipDetect: boolean,
  ): Promise<ClassicBuildResult> {
    if (buildpacks.length === 0)
      throw new ClassicStageError(
        ClassicExit.Other,
        'no buildpacks: name one with --buildpack, or add a .buildpacks file to the app',
      );
    const warnings: string[] = [];
    const bpPath = (bp: ClassicBuildpack, script: string) => `${ContainerPaths.buildpacks}/${bp.hash}/bin/${script}`;
    // What each buildpack has is read before any of its scripts run (a script could change its own dir).
    const scripts = new Map(buildpacks.map((bp) => [bp, binScripts(bp.dir)]));
    const has = (bp: ClassicBuildpack, script: string) => scripts.get(bp)!.has(script);
    // Heroku's registry names too: a script may replace buildpack.toml with a link the host must not follow.
    const names = new Map(buildpacks.map((bp) => [bp, herokuBuildpackName(bp.dir) ?? '']));
    const exportsBefore = (list: ClassicBuildpack[], i: number) =>
      list.slice(0, i).map((b) => `${ContainerPaths.buildpacks}/${b.hash}/export`);

    if (skipDetect && buildpacks.every((bp) => has(bp, 'compile') && !has(bp, 'supply') && !has(bp, 'finalize')))
      return this.#herokuChain(buildpacks, env, { bpPath, exportsBefore, has, names });

    let supply: ClassicBuildpack[];
    let final: ClassicBuildpack;
    let detectOutput: string | undefined;
    if (skipDetect) {
      supply = buildpacks.slice(0, -1);
      final = buildpacks[buildpacks.length - 1]!;
    } else {
      let chosen: ClassicBuildpack | undefined;
      for (const bp of buildpacks) {
        const mode = scripts.get(bp)!.get('detect');
        if (mode === undefined) continue;
        if ((mode & 0o111) === 0) this.log("WARNING: buildpack script '/bin/detect' is not executable");
        const r = await this.runner.run([bpPath(bp, 'detect'), ContainerPaths.app], env, {
          sourceExports: [],
          stdoutOnly: true,
        });
        if (r.exitCode === 0) {
          chosen = bp;
          detectOutput = r.stdout.replace(/[\r\n]+$/, '');
          break;
        }
      }
      if (!chosen)
        throw new ClassicStageError(ClassicExit.Detect, 'None of the buildpacks detected a compatible application');
      this.log(`-----> ${detectOutput || chosen.key} app detected`);
      supply = [];
      final = chosen;
    }
    const chain = [...supply, final];
    const n = chain.length;
    for (let i = 0; i < n; i++) this.host.deps.mkdir(depsIndex(i, n), this.host.owner);
    this.cleanCache(new Set([...supply.map((b) => b.hash), 'final']));

    for (const [i, bp] of supply.entries()) {
      if (!has(bp, 'supply'))
        throw new ClassicStageError(
          ClassicExit.Supply,
          'Error: one of the buildpacks chosen to supply dependencies does not support multi-buildpack apps',
          { buildpack: bp.key },
        );
      const cache = `${ContainerPaths.cache}/${bp.hash}`;
      this.host.cache.mkdir(bp.hash, this.host.owner);
      const r = await this.runner.run(
        [bpPath(bp, 'supply'), ContainerPaths.app, cache, ContainerPaths.deps, depsIndex(i, n)],
        env,
        { sourceExports: exportsBefore(chain, i) },
      );
      if (r.exitCode !== 0)
        throw new ClassicStageError(
          ClassicExit.Supply,
          `Failed to run all supply scripts: ${bp.key}: exit status ${r.exitCode}`,
          { buildpack: bp.key },
        );
    }

    const idx = depsIndex(n - 1, n);
    const finalCache = `${ContainerPaths.cache}/final`;
    this.host.cache.mkdir('final', this.host.owner);
    const before = exportsBefore(chain, n - 1);
    const compileFailed = (script: string, code: number) =>
      new ClassicStageError(
        ClassicExit.Compile,
        `Failed to compile droplet: Failed to run ${script}: exit status ${code}`,
        { buildpack: final.key },
      );
    if (has(final, 'finalize')) {
      if (has(final, 'supply')) {
        const r = await this.runner.run(
          [bpPath(final, 'supply'), ContainerPaths.app, finalCache, ContainerPaths.deps, idx],
          env,
          { sourceExports: before },
        );
        if (r.exitCode !== 0) throw compileFailed('supply', r.exitCode);
      }
      const r = await this.runner.run(
        [bpPath(final, 'finalize'), ContainerPaths.app, finalCache, ContainerPaths.deps, idx, ContainerPaths.profile],
        env,
        { sourceExports: before },
      );
      if (r.exitCode !== 0) throw compileFailed('finalize', r.exitCode);
    } else {
      if (!has(final, 'compile'))
        throw new ClassicStageError(
          ClassicExit.Compile,
          `Failed to compile droplet: buildpack ${final.key} has neither bin/finalize nor bin/compile`,
        );
      if (supply.length > 0) {
        const w =
          'Warning: the last buildpack is not compatible with multi-buildpack apps and cannot make use of any dependencies supplied by the buildpacks specified before it';
        this.log(w);
        warnings.push(w);
      }
      this.host.deps.remove(idx);
      const r = await this.runner.run([bpPath(final, 'compile'), ContainerPaths.app, finalCache], env, {
        sourceExports: before,
      });
      if (r.exitCode !== 0) throw compileFailed('compile', r.exitCode);
    }

    // Process types: supply launch.yml (CF reads deps/<i> unpadded), the final's launch.yml or bin/release, the Procfile.
    const types: Record<string, string> = {};
    for (let i = 0; i < supply.length; i++)
      Object.assign(types, readLaunchYml(this.host.deps, `${i}/launch.yml`) ?? {});
    const finalLaunch = readLaunchYml(this.host.deps, `${idx}/launch.yml`);
    if (finalLaunch) Object.assign(types, finalLaunch);
    else if (has(final, 'release')) {
      const r = await this.runner.run([bpPath(final, 'release'), ContainerPaths.app], env, {
        sourceExports: before,
        stdoutOnly: true,
      });
      if (r.exitCode !== 0)
        throw new ClassicStageError(ClassicExit.Release, `Failed to build droplet release: exit status ${r.exitCode}`, {
          buildpack: final.key,
        });
      Object.assign(types, parseRelease(r.stdout));
    }
    Object.assign(types, readProcfile(this.host.app, 'Procfile'));
    this.#warnWithoutWeb(types, warnings);

    // CF's detected_buildpack: the name config.yml gives, else detect's output in detect mode, else "".
    const metadata = chain.map((bp, i) => {
      const c = readDepsConfig(this.host.deps, `${depsIndex(i, n)}/config.yml`);
      const name = c.name || (!skipDetect && detectOutput ? detectOutput : '');
      return {
        key: bp.key,
        name,
        ...(c.version ? { version: c.version } : {}),
        ...(c.config ? { config: c.config } : {}),
      };
    });
    return {
      buildpacks: metadata,
      ...(detectOutput !== undefined ? { detectOutput } : {}),
      detectedBuildpack: metadata[metadata.length - 1]!.name,
      processTypes: types,
      warnings,
    };
  }

  /** Heroku's multi-buildpack staging: every bin/compile in order, then every bin/release (see the class doc). */
  async #herokuChain(
    buildpacks: ClassicBuildpack[],
    env: Record<string, string>,
    { bpPath, exportsBefore, has, names }: ChainHelpers,
  ): Promise<ClassicBuildResult> {
    const warnings: string[] = [];
    const last = buildpacks.length - 1;
    // The last buildpack keeps CF's `final` cache; the others have one each, by key.
    const cacheOf = (i: number) => (i === last ? 'final' : buildpacks[i]!.hash);
    this.cleanCache(new Set(buildpacks.map((_, i) => cacheOf(i))));
    for (const [i, bp] of buildpacks.entries()) {
      this.host.cache.mkdir(cacheOf(i), this.host.owner);
      const r = await this.runner.run(
        [bpPath(bp, 'compile'), ContainerPaths.app, `${ContainerPaths.cache}/${cacheOf(i)}`, ContainerPaths.env],
        env,
        { sourceExports: exportsBefore(buildpacks, i) },
      );
      if (r.exitCode !== 0)
        throw new ClassicStageError(
          ClassicExit.Compile,
          `Failed to compile droplet: Failed to run compile of ${bp.key}: exit status ${r.exitCode}`,
          { buildpack: bp.key },
        );
    }
    const types: Record<string, string> = {};
    for (const [i, bp] of buildpacks.entries()) {
      if (!has(bp, 'release')) continue;
      const r = await this.runner.run([bpPath(bp, 'release'), ContainerPaths.app], env, {
        sourceExports: exportsBefore(buildpacks, i + 1),
        stdoutOnly: true,
      });
      if (r.exitCode !== 0)
        throw new ClassicStageError(
          ClassicExit.Release,
          `Failed to build droplet release: ${bp.key}: exit status ${r.exitCode}`,
          { buildpack: bp.key },
        );
      Object.assign(types, parseRelease(r.stdout));
    }
    Object.assign(types, readProcfile(this.host.app, 'Procfile'));
    this.#warnWithoutWeb(types, warnings);
    // No config.yml in Heroku's API: a buildpack's name is its registry buildpack.toml's, else "".
    const metadata = buildpacks.map((bp) => ({ key: bp.key, name: names.get(bp)! }));
    return { buildpacks: metadata, detectedBuildpack: metadata[last]!.name, processTypes: types, warnings };
  }

  #warnWithoutWeb(types: Record<string, string>, warnings: string[]): void {
    if (types['web']) return;
    const w =
      'No start command specified by buildpack or via Procfile.\nApp will not start unless a command is provided at runtime.';
    this.log(w);
    warnings.push(w);
  }

  /** CF's cleanCacheDir: what the current order does not use is deleted, so a buildpack leaving the order drops its cache. */
  private cleanCache(keep: Set<string>): void {
    for (const name of this.host.cache.readdir('.') ?? []) if (!keep.has(name)) this.host.cache.remove(name);
  }
}

/** What build() knows of the buildpacks before any script ran, for the Heroku chain. */
interface ChainHelpers {
  bpPath: (bp: ClassicBuildpack, script: string) => string;
  exportsBefore: (list: ClassicBuildpack[], i: number) => string[];
  has: (bp: ClassicBuildpack, script: string) => boolean;
  /** Each buildpack's `[buildpack] name` from Heroku's registry buildpack.toml ("" without one). */
  names: Map<ClassicBuildpack, string>;
}

/** The scripts in a buildpack's bin/ and their modes; a link counts as a script (the container resolves it, the host never looks through it). */
function binScripts(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of ['detect', 'supply', 'finalize', 'compile', 'release']) {
    try {
      const st = lstatSync(join(dir, 'bin', name));
      if (st.isFile() || st.isSymbolicLink()) out.set(name, st.isSymbolicLink() ? 0o755 : st.mode);
    } catch {
      // not there
    }
  }
  return out;
}
