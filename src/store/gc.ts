import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from '../oci/digest.js';
import { isOwnerAlive, parseOwner } from './owner.js';
import type { BlobStore, IngestInfo, MetadataStore } from './types.js';

/**
 * The grace period of every GC of a store, `slipway gc` and the registry's online GC
 * alike: blobs linked (pushed, mounted) this recently, and untagged manifests this
 * young, are kept though nothing needs them yet. A registry client pushes blobs, then
 * an index's children untagged, and the tagged manifest last; a GC beside a running
 * registry must not take what such a push has sent so far. One hour.
 */
export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

export interface GcOptions {
  /**
   * Blobs linked to a repository this recently are kept even when no manifest needs
   * them yet: a registry client pushes blobs before their manifest. Default DEFAULT_GC_GRACE_MS.
   */
  linkGraceMs?: number;
  /** An ingest untouched this long is abandoned whoever owns it. Default 24 hours. */
  ingestMaxAgeMs?: number;
}

export interface GcReport {
  blobsRemoved: number;
  bytesFreed: number;
  ingestsRemoved: number;
}

const HOUR = 60 * 60 * 1000;

/**
 * Mark and sweep: removes stale ingests, then, under the metadata's GC lock, every
 * blob that no manifest, tag, live lease or fresh link needs.
 */
export async function collectGarbage(
  blobs: BlobStore,
  meta: MetadataStore,
  options: GcOptions = {},
): Promise<GcReport> {
  const report: GcReport = { blobsRemoved: 0, bytesFreed: 0, ingestsRemoved: 0 };
  const maxAge = options.ingestMaxAgeMs ?? 24 * HOUR;
  const now = Date.now();
  for (const ingest of await blobs.listIngests()) {
    if (!isStaleIngest(ingest, now, maxAge)) continue;
    await blobs.removeIngest(ingest.id);
    report.ingestsRemoved++;
  }
  await meta.withGcLock({ linkGraceMs: options.linkGraceMs ?? DEFAULT_GC_GRACE_MS }, async (live) => {
    const deleted: Digest[] = [];
    for await (const digest of blobs.list()) {
      if (live.has(digest)) continue;
      const size = (await blobs.stat(digest))?.size ?? 0;
      if (!(await blobs.delete(digest))) continue;
      deleted.push(digest);
      report.blobsRemoved++;
      report.bytesFreed += size;
    }
    return deleted;
  });
  return report;
}

/** An ingest nobody will finish: half removed, its owner process is gone, or it has sat untouched too long. */
export function isStaleIngest(ingest: IngestInfo, now: number, maxAgeMs: number): boolean {
  if (ingest.broken) return true;
  // Without a known host the owner cannot be judged: leave it to age ('' matches no host).
  const ownerGone = ingest.pid !== undefined && !isOwnerAlive({ pid: ingest.pid, host: ingest.host ?? '' });
  return ownerGone || now - ingest.mtimeMs > maxAgeMs;
}

/**
 * Removes what commands killed mid-way left in the store's scratch directory
 * (`<home>/tmp`: stage-*, droplet-*, ...): entries untouched for `graceMs`, so work in
 * flight keeps its own, and the scratch directories of processes that are gone. Answers
 * how many went.
 */
export function sweepTemp(home: string, graceMs: number): number {
  const dir = join(home, 'tmp');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  const cutoff = Date.now() - graceMs;
  let removed = 0;
  for (const name of names) {
    const path = join(dir, name);
    const owner = parseOwner(name);
    try {
      // A process's own scratch directory (processScratchDir) goes with its process; the rest by age.
      if (owner ? isOwnerAlive(owner) : statSync(path).mtimeMs > cutoff) continue;
    } catch {
      continue;
    }
    rmSync(path, { recursive: true, force: true });
    removed++;
  }
  return removed;
}
