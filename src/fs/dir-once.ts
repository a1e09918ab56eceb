import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';

/**
 * Makes `dir` once: `fill` writes a fresh temp dir beside it, which is then renamed into
 * place, so a crash or a concurrent maker never leaves half a tree under the final name.
 * When another maker got there first, theirs is kept (same inputs, same content).
 */
export async function makeDirOnce(dir: string, fill: (tmp: string) => Promise<void> | void): Promise<void> {
  if (existsSync(dir)) return;
  const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
  mkdirSync(tmp, { recursive: true });
  try {
    await fill(tmp);
    try {
      renameSync(tmp, dir);
    } catch (err) {
      if (!existsSync(dir)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
