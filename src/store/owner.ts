import { hostname } from 'node:os';
import { isErrno } from '../errors.js';

/**
 * Who owns a lease or an ingest: a process on a host. GC reclaims what a dead owner
 * left behind, which it can only judge for processes on its own host.
 */
export interface Owner {
  pid: number;
  host: string;
}

/** This process, as an owner. */
export function currentOwner(): Owner {
  return { pid: process.pid, host: hostname() };
}

/** The lease owner string of this process, e.g. "pid:1234@build-host". */
export function ownerString(owner: Owner = currentOwner()): string {
  return `pid:${owner.pid}@${owner.host}`;
}

/** Parses an owner string; undefined when it is not of the form `pid:N@host`. */
export function parseOwner(value: string): Owner | undefined {
  const m = /^pid:(\d+)@(.+)$/.exec(value);
  return m ? { pid: Number(m[1]), host: m[2]! } : undefined;
}

/** True when `pid` names a process that exists (EPERM: it exists but belongs to another user). */
export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, 'ESRCH');
  }
}

/**
 * True unless we can prove the owner is gone: a process of this host that no longer
 * exists. Owners on other hosts, or unparseable ones, count as alive (GC falls back
 * to age for those). A reused pid makes a dead owner look alive: safe, only late.
 */
export function isOwnerAlive(owner: Owner | string | undefined): boolean {
  const o = typeof owner === 'string' ? parseOwner(owner) : owner;
  if (o === undefined || o.host !== hostname()) return true;
  return isProcessAlive(o.pid);
}
