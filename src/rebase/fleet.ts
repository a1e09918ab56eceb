import { isSlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { ImageConfig } from '../oci/types.js';
import type { LocalStore } from '../store/local-store.js';
import { Registries } from '../registry/client/registries.js';
import { silentProgress, type Progress } from '../progress.js';
import { DEFAULT_STACK_NAME } from '../stack/request.js';
import {
  listStackNames,
  repositoryOf,
  stackVersions,
  versionChanges,
  type StackVersion,
} from '../stack/stack-catalog.js';
import type { PackageDiff } from '../stack/packages.js';
import { RebaseRefused, type Refusal } from './compatibility.js';
import { readLifecycleMetadata } from './lifecycle-metadata.js';
import { rebaseImage, type RebaseReport } from './rebase.js';
import { LocalBatch } from './local-batch.js';
import { BaseImages } from './run-image.js';
import { BlobPlacement, addCounts, emptyCounts, type TransferCounts } from './write-rebased.js';

export interface FleetOptions {
  /** The stack whose older run images are replaced (default: the default stack). */
  stack?: string;
  /** Only repositories whose name starts with this. */
  repoPrefix?: string;
  /** Scan this registry (host[:port]) instead of the local store. */
  registry?: string;
  /** Images rebased at once (default 8). */
  concurrency?: number;
  dryRun?: boolean;
  force?: boolean;
  /** The new run image to use instead of the stack's latest in the local store (e.g. its copy in the registry). */
  runImage?: string;
  registries?: Registries;
  progress?: Progress;
}

export interface FleetEntry {
  image: string;
  status: 'rebased' | 'current' | 'refused' | 'failed';
  /** The stack version and run image digest it was on, and the one it is (or would be) on now. */
  from?: { version?: string; digest?: string };
  to?: { version: string; digest: Digest };
  digest?: Digest;
  previousDigest?: Digest;
  reason?: string;
  refusals?: Refusal[];
}

export interface FleetReport {
  stack: string;
  runImage: { name: string; version: string; digest: Digest };
  dryRun: boolean;
  /** Images looked at, and how many of them were built on some version of the stack. */
  scanned: number;
  onStack: number;
  rebased: FleetEntry[];
  current: FleetEntry[];
  refused: FleetEntry[];
  failed: FleetEntry[];
  /** What the run image's packages change for each version images move from (the blast radius). */
  packageChanges: { from: string; to: string; run: PackageDiff }[];
  transfer: TransferCounts;
  seconds: number;
}

/**
 * Rebases every image built on an older version of a stack's run image onto its latest
 * version: the local store's images, or a registry's (catalog, then tags). An image
 * belongs to the stack when its recorded run image digest, or its run image top layer,
 * is one of the stack's versions'. Running it twice rebases nothing the second time.
 *
 * @example
 *   const report = await fleetRebase(store, { stack: 'default', dryRun: true });
 *   report.rebased.map((e) => `${e.image}: ${e.from?.version} -> ${e.to?.version}`)
 */
export async function fleetRebase(store: LocalStore, options: FleetOptions = {}): Promise<FleetReport> {
  const started = performance.now();
  const name = options.stack ?? DEFAULT_STACK_NAME;
  const progress = options.progress ?? silentProgress;
  const registries = options.registries ?? new Registries();
  const versions = await stackVersions(store, name);
  const latest = versions[versions.length - 1]!;
  const match = stackMatcher(versions);
  const opened = () => Promise.resolve(store);
  const bases = new BaseImages(opened, registries);
  const runImage =
    options.runImage ??
    (await runImageIn(bases, options.registry, name, latest)) ??
    `${repositoryOf(name, 'run')}:${latest.version}`;
  const placement = new BlobPlacement();
  const images = await listCandidates(store, registries, options);

  const report: FleetReport = {
    stack: name,
    runImage: { name: runImage, version: latest.version, digest: latest.run.digest },
    dryRun: options.dryRun ?? false,
    scanned: images.length,
    onStack: 0,
    rebased: [],
    current: [],
    refused: [],
    failed: [],
    packageChanges: [],
    transfer: emptyCounts(),
    seconds: 0,
  };
  const fromVersions = new Set<string>();
  const to = { version: latest.version, digest: latest.run.digest };
  // In the local store, images are written in batches (see LocalBatch); a registry takes a PUT per manifest anyway.
  const writer = !options.registry && !options.dryRun ? new LocalBatch(store, { size: batchSize() }) : undefined;
  const commits: Promise<void>[] = [];
  await forEachBounded(images, options.concurrency ?? 8, async (image) => {
    let from: FleetEntry['from'];
    let committed: Promise<unknown> | undefined;
    const filter = (config: ImageConfig) => {
      from = match(config);
      return from ? undefined : 'not built on this stack';
    };
    try {
      const r: RebaseReport = await rebaseImage(image, opened, {
        runImage,
        registries,
        bases,
        placement,
        filter,
        sameRunImage: true,
        ...(options.force ? { force: true } : {}),
        ...(options.dryRun ? { dryRun: true } : {}),
        ...(writer ? { batch: { writer, queued: (p) => void (committed = p) } } : {}),
      });
      if (r.status === 'skipped') return;
      report.onStack++;
      const entry: FleetEntry = {
        image,
        status: r.status,
        ...(from ? { from } : {}),
        to,
        digest: r.digest,
        previousDigest: r.previousDigest,
      };
      if (r.status === 'rebased') {
        report.rebased.push(entry);
        if (from?.version) fromVersions.add(from.version);
      } else report.current.push(entry);
      addCounts(report.transfer, r.transfer);
      if (committed) {
        // Reported once its batch is on disk; one that failed there moves to the failures.
        commits.push(
          committed.then(
            () => progress.done(image, 'rebased'),
            (err: unknown) => {
              report.rebased.splice(report.rebased.indexOf(entry), 1);
              const reason = (err as Error).message;
              report.failed.push({ image, status: 'failed', ...(from ? { from } : {}), reason });
              progress.done(image, `failed: ${reason}`);
            },
          ),
        );
        return;
      }
      progress.done(image, r.status === 'rebased' ? (options.dryRun ? 'would rebase' : 'rebased') : 'already current');
    } catch (err) {
      if (from) report.onStack++;
      const entry: FleetEntry = {
        image,
        status: err instanceof RebaseRefused ? 'refused' : 'failed',
        ...(from ? { from } : {}),
        reason: (err as Error).message,
      };
      if (err instanceof RebaseRefused) {
        entry.refusals = err.refusals;
        report.refused.push(entry);
      } else if (!from && isSlipwayError(err) && err.code === 'INVALID_DOCUMENT') {
        return; // Not an image we could read as one of the stack's: not ours to report.
      } else report.failed.push(entry);
      progress.done(image, `${entry.status}: ${entry.reason}`);
    }
  });
  await writer?.flush();
  await Promise.all(commits);
  for (const v of [...fromVersions].sort((a, b) => Number(a) - Number(b))) {
    const old = versions.find((x) => x.version === v);
    if (old) report.packageChanges.push({ from: v, to: latest.version, run: versionChanges(old, latest).run });
  }
  for (const list of [report.rebased, report.current, report.refused, report.failed])
    list.sort((a, b) => a.image.localeCompare(b.image));
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/**
 * The stack's latest run image in the registry being rebased, when it is there (a
 * Slipway registry serving the store has it): its layers are then mounted, not copied.
 */
async function runImageIn(
  bases: BaseImages,
  registry: string | undefined,
  name: string,
  latest: StackVersion,
): Promise<string | undefined> {
  if (!registry) return undefined;
  const ref = `docker://${registry}/${repositoryOf(name, 'run')}@${latest.run.digest}`;
  try {
    await bases.open(ref);
    return ref;
  } catch (err) {
    if (
      isSlipwayError(err) &&
      ['MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'NOT_FOUND', 'UNAUTHORIZED', 'DENIED'].includes(err.code)
    )
      return undefined;
    throw err;
  }
}

/** Which version of the stack an image's config says it is on, by run image digest or top layer; undefined when none. */
function stackMatcher(versions: StackVersion[]): (config: ImageConfig) => FleetEntry['from'] | undefined {
  const byDigest = new Map(versions.map((v) => [v.run.digest as string, v.version]));
  const byTop = new Map(versions.map((v) => [v.run.config.rootfs.diff_ids.at(-1) as string, v.version]));
  return (config) => {
    const run = readLifecycleMetadata(config.config?.Labels)?.runImage;
    const digest = run?.reference?.match(/sha256:[0-9a-f]{64}$/)?.[0];
    const version = (digest && byDigest.get(digest)) || (run?.topLayer && byTop.get(run.topLayer)) || undefined;
    if (!version) return undefined;
    return { version, ...(digest ? { digest } : {}) };
  };
}

/** Every tagged image to look at: the local store's (stack repositories left out), or a registry's. */
async function listCandidates(store: LocalStore, registries: Registries, options: FleetOptions): Promise<string[]> {
  const prefix = options.repoPrefix ?? '';
  if (options.registry) {
    const client = await registries.client(options.registry);
    // Run and build images are left out by the filter (they record no run image of their own).
    const repos = (await client.listRepositories()).filter((r) => r.startsWith(prefix));
    const out: string[] = [];
    await forEachBounded(repos, 8, async (repo) => {
      for (const tag of await client.listTags(repo)) out.push(`docker://${options.registry}/${repo}:${tag}`);
    });
    return out.sort();
  }
  const stacks = new Set(
    (await listStackNames(store)).flatMap((n) => [repositoryOf(n, 'run'), repositoryOf(n, 'build')]),
  );
  return (await store.meta.listTagged())
    .filter((t) => t.repository.startsWith(prefix) && !stacks.has(t.repository))
    .map((t) => `${t.repository}:${t.tag}`)
    .sort();
}

/** Images per batch in the local store; SLIPWAY_REBASE_BATCH sets it (the crash test cuts a fleet between small batches). */
function batchSize(): number | undefined {
  const n = Number(process.env['SLIPWAY_REBASE_BATCH']);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

async function forEachBounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
