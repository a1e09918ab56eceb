import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalStore, ensureDefaultStack } from '../src/index.js';
import { parseTransport } from '../src/oci/transport.js';
import { ContainerRuntime, type RunOptions } from '../src/runtime/index.js';
import { readLocal } from '../src/transport/local.js';
import type { ImageConfig } from '../src/oci/types.js';
import { stage, type StageOptions, type StageReport } from '../src/stage/cnb/stage.js';
import { tempDir } from './helpers.js';

/**
 * A store with the default stack (from the stack cache), shared by a test file: its
 * directory is `home` (SLIPWAY_HOME for the CLI), with a scratch directory `work` for
 * apps and buildpacks; `cleanup` closes the store and removes both.
 */
export async function buildStore(): Promise<{
  store: LocalStore;
  home: string;
  work: string;
  cleanup: () => Promise<void>;
}> {
  const dir = await tempDir('slipway-build');
  const work = await tempDir('slipway-build-work');
  const store = await LocalStore.open(dir.path);
  await ensureDefaultStack(store);
  return {
    store,
    home: dir.path,
    work: work.path,
    cleanup: async () => {
      await store.close();
      await Promise.all([dir.cleanup(), work.cleanup()]);
    },
  };
}

export interface TestBuildpack {
  id: string;
  version?: string;
  api?: string;
  /** Body of bin/detect (sh); default `exit 0`. */
  detect?: string;
  /** Body of bin/build (sh); default `exit 0`. */
  build?: string;
  /** Extra buildpack.toml text (e.g. an [[order]] for a composite). */
  toml?: string;
  composite?: boolean;
}

/** Writes small shell buildpacks under `root`; returns their directories. */
export function writeBuildpacks(root: string, bps: TestBuildpack[]): string[] {
  return bps.map((bp) => {
    const dir = join(root, bp.id.replaceAll('/', '_'));
    mkdirSync(join(dir, 'bin'), { recursive: true });
    writeFileSync(
      join(dir, 'buildpack.toml'),
      `api = "${bp.api ?? '0.10'}"\n[buildpack]\nid = "${bp.id}"\nversion = "${bp.version ?? '1.0.0'}"\n${bp.toml ?? ''}\n`,
    );
    if (!bp.composite) {
      for (const [name, body] of [
        ['detect', bp.detect ?? 'exit 0'],
        ['build', bp.build ?? 'exit 0'],
      ] as const) {
        writeFileSync(join(dir, 'bin', name), `#!/bin/sh\nset -e\n${body}\n`);
        chmodSync(join(dir, 'bin', name), 0o755);
      }
    }
    return dir;
  });
}

/**
 * Fresh directories under a test file's scratch dir (`work()`, known once its `before`
 * ran): `app()` an app holding hello.txt, `bps(list)` the buildpacks written there,
 * `fresh(name)` a new path.
 */
export function scratchDirs(work: () => string): {
  app: () => string;
  bps: (list: TestBuildpack[]) => string[];
  fresh: (name: string) => string;
} {
  let n = 0;
  const fresh = (name: string) => join(work(), `${name}-${n++}`);
  return {
    fresh,
    app: () => {
      const dir = fresh('app');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'hello.txt'), 'hi\n');
      return dir;
    },
    bps: (list) => writeBuildpacks(fresh('bps'), list),
  };
}

/** Stages `app` with the buildpacks, collecting their output. */
export async function stageApp(
  store: LocalStore,
  app: string,
  repository: string,
  options: Partial<StageOptions> = {},
): Promise<StageReport & { output: string }> {
  let output = '';
  const report = await stage(store, {
    path: app,
    repository,
    tag: 'latest',
    created: 315532801,
    output: (t) => (output += t),
    ...options,
  });
  return { ...report, output };
}

/** Runs a local image to completion with `options`; its stdout and stderr merged. */
export async function runImage(
  store: LocalStore,
  image: string,
  options: RunOptions = {},
): Promise<{ exitCode: number | null | undefined; output: string }> {
  const runtime = ContainerRuntime.open(store.home);
  const log = join(store.home, `run-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  const fd = openSync(log, 'w');
  try {
    const r = await runtime.run(
      { ref: parseTransport(image), label: image, store: async () => store },
      { remove: true, network: 'none', ...options },
      { stdio: ['ignore', fd, fd] },
    );
    return { exitCode: r.exitCode, output: readFileSync(log, 'utf8') };
  } finally {
    closeSync(fd);
    runtime.close();
  }
}

/** The config of a local image. */
export async function imageConfig(store: LocalStore, repository: string, tag = 'latest'): Promise<ImageConfig> {
  const { artifact } = await readLocal(store, repository, tag);
  if (artifact.kind !== 'image') throw new Error('not an image');
  return artifact.image.config();
}
