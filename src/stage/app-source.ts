import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { SlipwayError, isErrno } from '../errors.js';

/**
 * The app's source as a build sees it: every entry below the app directory (symlinks
 * not followed) less what is left out, copied with owners, modes, times and hardlinks.
 *
 * Left out, with everything under them:
 * - the store the build runs in (`$SLIPWAY_HOME`) and any other Slipway store (a
 *   directory holding `metadata.sqlite` and `blobs/`): a build in `~` never copies
 *   `~/.slipway` into itself;
 * - what the ignore files in the app's top directory name: `.slipwayignore` and
 *   `.cfignore` (.gitignore syntax, as the cf CLI reads it) and `.dockerignore`
 *   (patterns anchored at the app directory, as docker reads them); every one that
 *   exists adds its rules;
 * - what `filter` refuses (project.toml's `[io.buildpacks]` include/exclude).
 */
export const IGNORE_FILES = ['.slipwayignore', '.cfignore', '.dockerignore'] as const;

export interface AppSourceOptions {
  /** Directories never copied (the store home, the staging directory). */
  skip: string[];
  /** project.toml's include/exclude, as pathFilter makes it. */
  filter?: ((relativePath: string, isDir: boolean) => boolean) | undefined;
  /** Given every entry to copy, those to copy now; the others are returned as `deferred` (copied later with writeAppSourceTar). */
  firstPart?: (entries: string[]) => string[] | undefined;
  /** The owner the copies get (numeric), set as they are written: no `chown -R` pass after the copy. */
  owner?: { uid: number; gid: number };
}

export interface AppSourceReport {
  /** Entries copied (files, directories, links). */
  entries: number;
  /** Stores (and skipped directories) found in the app directory and left out, relative to it. */
  storesLeftOut: string[];
  /** The ignore files whose rules applied. */
  ignoreFiles: string[];
  /** Entries left for later (parents before children), when `firstPart` chose a part. */
  deferred: string[];
}

/** The ignore files' rules of `appDir` (undefined when there are none) and which files gave them. */
export function appIgnoreRules(appDir: string): { rules: Ignore | undefined; files: string[] } {
  const rules = ignore();
  const files: string[] = [];
  for (const name of IGNORE_FILES) {
    let text: string;
    try {
      text = readFileSync(join(appDir, name), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) continue;
      throw err;
    }
    files.push(name);
    rules.add(name === '.dockerignore' ? dockerignoreAsGitignore(text) : text);
  }
  return { rules: files.length ? rules : undefined, files };
}

/** .dockerignore lines as .gitignore lines: docker matches every pattern from the context's root. */
export function dockerignoreAsGitignore(text: string): string {
  return text
    .split('\n')
    .map((raw) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return '';
      const negate = line.startsWith('!');
      const p = (negate ? line.slice(1) : line)
        .trim()
        .replace(/^(\.\/)+/, '')
        .replace(/^\/+/, '');
      return `${negate ? '!' : ''}/${p}`;
    })
    .join('\n');
}

/** A directory that is a Slipway store (LocalStore's layout). */
export function isStoreDir(dir: string): boolean {
  return existsSync(join(dir, 'metadata.sqlite')) && existsSync(join(dir, 'blobs'));
}

/** The relative paths to copy from `appDir` (parents before children), and the stores left out. */
export function appSourceEntries(
  appDir: string,
  options: AppSourceOptions,
): { entries: string[]; storesLeftOut: string[]; ignoreFiles: string[] } {
  const root = resolve(appDir);
  const skip = new Set(options.skip.map((d) => realOrSelf(d)));
  const { rules, files } = appIgnoreRules(root);
  const entries: string[] = [];
  const storesLeftOut: string[] = [];
  const walk = (rel: string) => {
    const dir = rel ? join(root, rel) : root;
    for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = rel ? `${rel}/${d.name}` : d.name;
      const isDir = d.isDirectory();
      if (rules?.ignores(isDir ? `${path}/` : path)) continue;
      if (options.filter && !options.filter(path, isDir)) continue;
      if (isDir) {
        const abs = join(root, path);
        if (skip.has(realOrSelf(abs)) || isStoreDir(abs)) {
          storesLeftOut.push(path);
          continue;
        }
        entries.push(path);
        walk(path);
      } else entries.push(path);
    }
  };
  if (skip.has(realOrSelf(root)) || isStoreDir(root))
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `the app directory ${root} is a Slipway store; give the app's directory with --path`,
      { detail: { path: root } },
    );
  walk('');
  return { entries, storesLeftOut, ignoreFiles: files };
}

/**
 * Copies the app's source from `appDir` into `destination` (an empty directory), as
 * the module comment says, with GNU tar (owners, modes, times, hardlinks kept).
 *
 * @example
 *   await copyAppSource('examples/nodejs', '/tmp/ws', { skip: [store.home] });
 */
export async function copyAppSource(
  appDir: string,
  destination: string,
  options: AppSourceOptions,
): Promise<AppSourceReport> {
  const root = resolve(appDir);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(root);
  } catch (err) {
    throw new SlipwayError('NOT_FOUND', `app directory ${root} does not exist`, { cause: err, detail: { path: root } });
  }
  if (!st.isDirectory())
    throw new SlipwayError('INVALID_ARGUMENT', `the app path ${root} is not a directory`, { detail: { path: root } });
  const { entries, storesLeftOut, ignoreFiles } = appSourceEntries(root, {
    ...options,
    skip: [...options.skip, destination],
  });
  const first = options.firstPart?.(entries);
  const now = first ?? entries;
  if (now.length > 0) await tarCopy(root, destination, now, options.owner);
  const copied = new Set(now);
  const deferred = first ? entries.filter((e) => !copied.has(e)) : [];
  return { entries: entries.length, storesLeftOut, ignoreFiles, deferred };
}

/**
 * `entries` of the app (relative paths, parents first) as a tar file at `file`, for a
 * build container to unpack itself: it then resolves every path inside the container,
 * so nothing the build wrote there meanwhile (a link) can lead a write out of it.
 */
export function writeAppSourceTar(appDir: string, entries: string[], file: string): Promise<void> {
  return runTar(resolve(appDir), ['-cf', file], entries, undefined);
}

function tarCopy(
  from: string,
  to: string,
  entries: string[],
  owner: { uid: number; gid: number } | undefined,
): Promise<void> {
  // The archive names the owner by number (":UID": never read as a user name) and the
  // extracting tar (root, --numeric-owner) keeps it, as chown -R would have set it.
  const owned = owner ? [`--owner=:${owner.uid}`, `--group=:${owner.gid}`, '--numeric-owner'] : [];
  return runTar(from, [...owned, '-cf', '-'], entries, to, owner ? ['--numeric-owner'] : []);
}

/** GNU tar over `entries` of `from` (owners, modes, times, hardlinks kept): into a file, or piped into a second tar extracting at `to`. */
function runTar(
  from: string,
  output: string[],
  entries: string[],
  to: string | undefined,
  extractOptions: string[] = [],
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const create = spawn('tar', ['-C', from, '--null', '--no-recursion', '-T', '-', ...output], {
      stdio: ['pipe', to ? 'pipe' : 'ignore', 'pipe'],
    });
    const extract = to
      ? spawn('tar', ['-C', to, ...extractOptions, '-xpf', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
      : undefined;
    let stderr = '';
    create.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    extract?.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    if (extract) {
      create.stdout!.pipe(extract.stdin);
      extract.stdin.on('error', () => undefined);
    }
    create.stdin!.on('error', () => undefined);
    create.stdin!.end(`${entries.join('\0')}\0`);
    let pending = extract ? 2 : 1;
    let failed = false;
    const done = (what: string) => (code: number | null) => {
      if (code !== 0 && !failed) {
        failed = true;
        reject(
          new SlipwayError(
            'TOOL_FAILED',
            `cannot copy the app from ${from}: ${what} exited ${code}: ${stderr.trim()}`,
            {
              detail: { path: from },
            },
          ),
        );
      }
      if (--pending === 0 && !failed) resolvePromise();
    };
    create.on('error', reject);
    create.on('close', done('tar -c'));
    extract?.on('error', reject);
    extract?.on('close', done('tar -x'));
  });
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}
