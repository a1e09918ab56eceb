import { execFile } from 'node:child_process';
import { SlipwayError } from '../errors.js';

/**
 * The few host programs the runtime calls (util-linux mount/umount, coreutils sync),
 * with their failures turned into SlipwayErrors that carry stderr.
 */

export interface ToolOptions {
  cwd?: string;
  /** Written to the program's stdin. */
  input?: string;
}

/** Runs `cmd args`; resolves with stdout, rejects with IO_ERROR (TOOL_MISSING when the program is absent). */
export function runTool(cmd: string, args: readonly string[], options: ToolOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: options.cwd, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(
          new SlipwayError('TOOL_MISSING', `${cmd} is not installed (it comes with Debian's util-linux / coreutils)`, {
            cause: err,
            detail: { tool: cmd },
          }),
        );
      }
      reject(
        new SlipwayError('IO_ERROR', `${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`, {
          cause: err,
          detail: { tool: cmd, args: [...args], stderr: String(stderr) },
        }),
      );
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * Flushes the filesystem holding `path` to disk (syncfs(2), via `sync -f`): one call
 * for a whole freshly unpacked tree instead of an fsync per file.
 */
export async function syncFilesystem(path: string): Promise<void> {
  await runTool('sync', ['-f', path]);
}
