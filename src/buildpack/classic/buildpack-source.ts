import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ClassicExit, ClassicStageError } from './classic-error.js';

export { isClassicBuildpackDir } from './buildpack-kind.js';

const run = promisify(execFile);

/** A classic buildpack ready to run: its key (as given), where it is on this host, its hashed dir name. */
export interface ClassicBuildpack {
  key: string;
  dir: string;
  /** The name of its dir under /tmp/buildpacks and of its supply cache under /tmp/cache (CF: xxhash64 of the key; here sha256, 16 hex digits). */
  hash: string;
}

export function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/**
 * Brings a buildpack into `into` (a fresh dir of its own, writable, so a Heroku
 * buildpack can write $BP_DIR/export): a directory is copied, a .zip or .tgz
 * unpacked, a git URL cloned (`URL#REF` pins a branch, tag or commit, as CF and
 * Heroku's .buildpacks read it). A single top-level folder holding bin/ is used as
 * the buildpack, as CF does for zips made of a folder.
 *
 * @example
 *   await fetchBuildpack('https://github.com/cloudfoundry/staticfile-buildpack.git#v1.6.0', '/tmp/bp/1');
 */
export async function fetchBuildpack(key: string, into: string): Promise<ClassicBuildpack> {
  mkdirSync(into, { recursive: true });
  const fail = (why: string, cause?: unknown) =>
    new ClassicStageError(ClassicExit.Other, `buildpack ${key}: ${why}`, {
      buildpack: key,
      ...(cause ? { cause: String(cause) } : {}),
    });
  const isUrl = /^(https?|git|ssh|file):\/\//.test(key) || key.startsWith('git@');
  try {
    if (isUrl && /\.zip(#.*)?$/.test(key) && !key.includes('.git')) {
      const file = `${into}.zip`;
      await run('curl', ['-fsSL', '-o', file, key.replace(/#.*$/, '')]);
      await run('unzip', ['-q', file, '-d', into]);
    } else if (isUrl) {
      const [url, ref] = key.split('#') as [string, string | undefined];
      try {
        await run('git', ['clone', '--depth', '1', '--recursive', ...(ref ? ['-b', ref] : []), url, into], {
          maxBuffer: 16 << 20,
        });
      } catch {
        // A commit id cannot be cloned with -b: a full clone, then checkout (CF's fallback).
        await run('rm', ['-rf', into]);
        await run('git', ['clone', '--recursive', url, into], { maxBuffer: 16 << 20 });
        if (ref) await run('git', ['-C', into, 'checkout', ref]);
      }
    } else {
      const path = resolve(key);
      if (!existsSync(path)) throw fail('no such directory or file');
      if (statSync(path).isDirectory()) await run('cp', ['-a', `${path}/.`, into]);
      else if (/\.zip$/.test(path)) await run('unzip', ['-q', path, '-d', into]);
      else if (/\.(tgz|tar\.gz|tar)$/.test(path)) await run('tar', ['-xf', path, '-C', into]);
      else throw fail('not a directory, .zip, .tgz or git URL');
    }
  } catch (err) {
    if (err instanceof ClassicStageError) throw err;
    throw fail(`cannot fetch it: ${(err as { stderr?: string }).stderr || (err as Error).message}`, err);
  }
  let dir = into;
  if (!existsSync(join(dir, 'bin'))) {
    const entries = readdirSync(dir);
    if (entries.length === 1 && existsSync(join(dir, entries[0]!, 'bin'))) dir = join(dir, entries[0]!);
    else throw fail('malformed buildpack does not contain a /bin dir');
  }
  return { key, dir, hash: keyHash(key) };
}

/**
 * The buildpacks a Heroku `.buildpacks` file in the app names (one per line, `URL#REF`,
 * blank lines and # comments skipped); undefined when the app has none.
 */
export function readDotBuildpacks(appDir: string): string[] | undefined {
  const file = join(appDir, '.buildpacks');
  if (!existsSync(file)) return undefined;
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
