import { execFile } from 'node:child_process';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeDirOnce } from '../../fs/dir-once.js';
import { SlipwayError } from '../../errors.js';
import { digestHex, digestStream } from '../../oci/digest.js';

const run = promisify(execFile);

/**
 * A buildpack archive (.tgz, .tar.gz, .tar) unpacked once per content, into
 * `cacheRoot`/unpacked/<sha256>, and reused from there by every later build: no
 * temporary copy per build to leave behind. Returns the buildpack's directory: a
 * tarball of one folder holding the buildpack (as `tar czf bp.tgz bp/` makes) is taken
 * as that folder. `name` is what error messages call the archive (its path or URL).
 */
export async function unpackBuildpackArchive(
  file: string,
  cacheRoot: string,
  options: { sha256?: string; name?: string } = {},
): Promise<string> {
  const dir = join(cacheRoot, 'unpacked', options.sha256 ?? (await sha256File(file)));
  await makeDirOnce(dir, async (tmp) => {
    try {
      // The archive's owners mean nothing here: its files are ours, as a download's are.
      await run('tar', ['-xf', file, '-C', tmp, '--no-same-owner']);
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new SlipwayError(
        'INVALID_ARCHIVE',
        `buildpack ${options.name ?? file}: not a .tgz, .tar.gz or .tar: ${(e.stderr || e.message).trim()}`,
        { cause: err, detail: { file } },
      );
    }
  });
  const inner = existsSync(join(dir, 'buildpack.toml'))
    ? undefined
    : readdirSync(dir).find((n) => existsSync(join(dir, n, 'buildpack.toml')));
  return inner ? join(dir, inner) : dir;
}

/** The sha256 of a file's bytes, hex, streamed. */
export async function sha256File(file: string): Promise<string> {
  return digestHex((await digestStream(createReadStream(file))).digest);
}
