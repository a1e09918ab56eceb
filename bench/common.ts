import { execFile } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../test/helpers.js';

const exec = promisify(execFile);

/** Where benchmarks keep their inputs and builds. */
export const BENCH_CACHE = process.env['SLIPWAY_BENCH_CACHE'] ?? '/var/cache/slipway-bench';

/**
 * Compiles Slipway (tsc) into `$BENCH_CACHE/<name>` so a benchmark runs it as it is
 * installed, not through tsx; returns the path of the compiled CLI entry.
 */
export async function buildSlipway(name: string, source = ROOT): Promise<string> {
  const dir = join(BENCH_CACHE, name);
  await rm(join(dir, 'dist'), { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await exec(
    join(ROOT, 'node_modules/.bin/tsc'),
    [
      '-p',
      join(source, 'tsconfig.json'),
      '--outDir',
      join(dir, 'dist'),
      '--sourceMap',
      'false',
      '--declaration',
      'false',
    ],
    { cwd: source },
  );
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
  // What the compiled code finds next to itself, as in the repository: modules, the
  // built-in buildpacks and the launcher.
  for (const [name, from] of [
    ['node_modules', ROOT],
    ['buildpacks', source],
    ['launcher', source],
  ] as const) {
    await rm(join(dir, name), { force: true });
    await symlink(join(from, name), join(dir, name));
  }
  return join(dir, 'dist/cli/main.js');
}

/** The median (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
