import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ownerString } from './owner.js';

/**
 * This process's scratch directory in the store: `<home>/tmp/pid:N@host`, removed when
 * the process exits. A process killed outright (SIGKILL) cannot remove it; its name
 * says whose it was, so `slipway gc` (sweepTemp) removes it once that process is gone,
 * whatever its age.
 */
export function processScratchDir(home: string): string {
  const dir = join(home, 'tmp', ownerString());
  mkdirSync(dir, { recursive: true });
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
