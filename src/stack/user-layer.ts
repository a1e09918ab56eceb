import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import type { StoreLease } from '../store/local-store.js';
import type { WrittenLayer } from '../copy/import-rootfs.js';
import type { StackUser } from './request.js';
import { passwdEntry, type RootfsFacts } from './rootfs-facts.js';
import { writeRootfsLayer } from './rootfs-layer.js';

/**
 * For a brought rootfs or image: checks that the stack user exists with the asked
 * uid, or makes a small layer that adds it (/etc/passwd and /etc/group with one more
 * line each, and its home directory), as `useradd` would. Undefined when the user is
 * already there. A user of that name with another uid is an error: the image says
 * otherwise than the operator.
 */
export async function userLayer(
  lease: StoreLease,
  facts: RootfsFacts,
  user: StackUser,
  what: string,
): Promise<WrittenLayer | undefined> {
  const existing = passwdEntry(facts.passwd, user.name);
  if (existing) {
    if (existing.uid !== user.uid || existing.gid !== user.gid) {
      throw new SlipwayError(
        'INVALID_ARGUMENT',
        `${what} already has user ${user.name} as ${existing.uid}:${existing.gid}, not ${user.uid}:${user.gid}: pass --user ${user.name}:${existing.uid}:${existing.gid}`,
      );
    }
    return undefined;
  }
  if (!facts.passwd) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `${what} has no /etc/passwd: a stack image needs one to run apps as ${user.name} (${user.uid}:${user.gid})`,
    );
  }
  const groupHas = facts.group.split('\n').some((l) => l.split(':')[2] === String(user.gid));
  const dir = await mkdtemp(join(tmpdir(), 'slipway-stack-user-'));
  try {
    await mkdir(join(dir, 'etc'), { mode: 0o755 });
    await mkdir(join(dir, 'home', user.name), { recursive: true, mode: 0o755 });
    const withLine = (text: string, line: string) =>
      `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}${line}\n`;
    await writeFile(
      join(dir, 'etc', 'passwd'),
      withLine(facts.passwd, `${user.name}:x:${user.uid}:${user.gid}::/home/${user.name}:/bin/sh`),
      { mode: 0o644 },
    );
    if (!groupHas)
      await writeFile(join(dir, 'etc', 'group'), withLine(facts.group, `${user.name}:x:${user.gid}:`), { mode: 0o644 });
    if (process.getuid?.() === 0) await chown(join(dir, 'home', user.name), user.uid, user.gid);
    return await writeRootfsLayer(lease, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
