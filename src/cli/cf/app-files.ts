import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { SlipwayError, isErrno } from '../../errors.js';

/**
 * The files of an app directory as `cf push` sends them (the cf CLI's
 * GatherDirectoryResources): every entry below the directory, symlinks not followed,
 * less what `.cfignore` (gitignore syntax) and the cf CLI's default ignores exclude;
 * a regular file with its sha1, size and mode (an octal string), which is what
 * resource matching compares.
 */

/** The cf CLI's DefaultIgnoreLines, always excluded. */
export const DEFAULT_IGNORES = [
  '.cfignore',
  '.DS_Store',
  '.git',
  '.gitignore',
  '.hg',
  '.svn',
  '_darcs',
  'manifest.yaml',
  'manifest.yml',
];

export interface AppFile {
  /** Relative to the app directory, with forward slashes; no trailing slash for directories. */
  path: string;
  kind: 'file' | 'dir' | 'symlink';
  /** Octal permission bits as CF sends them ("644", "755"); directories "755". */
  mode: string;
  /** sha1 of the contents (files; "" otherwise). */
  sha1: string;
  size: number;
  /** A symlink's target. */
  target?: string;
}

/** The entries of `dir` to push, sorted by path; the app directory itself resolved through symlinks. */
export async function gatherAppFiles(dir: string): Promise<{ root: string; files: AppFile[] }> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT'))
      throw new SlipwayError('NOT_FOUND', `The app path ${dir} does not exist`, { cause: err });
    throw err;
  }
  const st = await lstat(root);
  if (!st.isDirectory())
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `The app path ${dir} is not a directory: push a directory (zip archives are not taken yet)`,
    );
  const rules = ignore().add(DEFAULT_IGNORES);
  try {
    rules.add(await readFile(join(root, '.cfignore'), 'utf8'));
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  const files: AppFile[] = [];
  await walk(root, '', rules, files);
  if (files.length === 0) throw new SlipwayError('INVALID_ARGUMENT', `No app files found in '${dir}'`);
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { root, files };
}

async function walk(root: string, rel: string, rules: Ignore, out: AppFile[]): Promise<void> {
  const entries = await readdir(rel === '' ? root : join(root, rel), { withFileTypes: true });
  for (const entry of entries) {
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    const full = join(root, path);
    const st = await lstat(full);
    if (st.isDirectory()) {
      // An excluded directory is not entered (gitignore: its files cannot be re-included).
      if (rules.ignores(`${path}/`)) continue;
      out.push({ path, kind: 'dir', mode: '755', sha1: '', size: 0 });
      await walk(root, path, rules, out);
    } else if (rules.ignores(path)) {
    } else if (st.isSymbolicLink()) {
      out.push({ path, kind: 'symlink', mode: '777', sha1: '', size: 0, target: await readlink(full) });
    } else if (st.isFile()) {
      out.push({
        path,
        kind: 'file',
        mode: (st.mode & 0o7777).toString(8),
        sha1: await sha1Of(full),
        size: st.size,
      });
    }
    // sockets, fifos and devices are not app files: left out, as the cf CLI's zip has no place for them
  }
}

export async function sha1Of(path: string): Promise<string> {
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
