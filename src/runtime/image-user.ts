import { SlipwayError } from '../errors.js';
import { readRootFile } from './root-file.js';

/** The identity the container's process runs as, resolved in the image's own /etc/passwd and /etc/group. */
export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** The user's home directory from /etc/passwd, when the user has an entry. */
  home?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/**
 * Resolves an image config `User` (`""`, `name`, `uid`, `name:group`, `uid:gid`, ...)
 * as Docker and runc do: names must exist in the image's /etc/passwd or /etc/group;
 * a numeric uid need not (its gid is then 0); without an explicit group the user's
 * primary group is taken and the groups listing the user by name are added.
 *
 * @example
 * resolveUser('/var/lib/slipway/c1/rootfs', 'app')   // { uid: 1000, gid: 1000, additionalGids: [27], home: '/home/app' }
 */
export function resolveUser(rootfs: string, user: string | undefined): ProcessUser {
  const spec = (user ?? '').trim();
  const [userPart = '', groupPart] = spec.split(':', 2) as [string, string | undefined];
  const passwd = parsePasswd(readRootFile(rootfs, '/etc/passwd') ?? '');
  const groups = parseGroup(readRootFile(rootfs, '/etc/group') ?? '');

  const wanted = userPart === '' ? '0' : userPart;
  const entry = isNumeric(wanted)
    ? passwd.find((p) => p.uid === Number(wanted))
    : passwd.find((p) => p.name === wanted);
  if (!entry && !isNumeric(wanted)) {
    throw new SlipwayError(
      'NOT_FOUND',
      `user "${wanted}" is not in the image's /etc/passwd; use a numeric uid or an existing user`,
      { detail: { user: spec } },
    );
  }
  const uid = entry?.uid ?? Number(wanted);
  let gid = entry?.gid ?? 0;
  let additionalGids: number[] = [];
  if (groupPart !== undefined && groupPart !== '') {
    const group = isNumeric(groupPart) ? undefined : groups.find((g) => g.name === groupPart);
    if (!isNumeric(groupPart) && !group) {
      throw new SlipwayError(
        'NOT_FOUND',
        `group "${groupPart}" is not in the image's /etc/group; use a numeric gid or an existing group`,
        { detail: { user: spec } },
      );
    }
    gid = group?.gid ?? Number(groupPart);
  } else if (entry) {
    additionalGids = [
      ...new Set(groups.filter((g) => g.members.includes(entry.name) && g.gid !== gid).map((g) => g.gid)),
    ];
  }
  const resolved: ProcessUser = { uid, gid, additionalGids };
  if (entry?.home) resolved.home = entry.home;
  return resolved;
}

function isNumeric(s: string): boolean {
  return /^\d+$/.test(s);
}

function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#') || !isNumeric(f[2]!) || !isNumeric(f[3]!)) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! });
  }
  return out;
}

function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#') || !isNumeric(f[2]!)) continue;
    out.push({
      name: f[0]!,
      gid: Number(f[2]),
      members: f[3]!
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
    });
  }
  return out;
}
