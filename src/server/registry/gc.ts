import { DEFAULT_GC_GRACE_MS, type GcReport, type LocalStore } from '../../store/local-store.js';
import type { RegistryEvent } from './events.js';

export interface OnlineGcOptions {
  /** Time between the end of one run and the start of the next. */
  intervalMs: number;
  /**
   * Blobs linked (pushed or mounted) this recently are kept though no manifest needs
   * them yet: a client pushes blobs before their manifest. With pruneUntagged, also
   * the age an untagged manifest must reach before it is removed. Default the store's
   * DEFAULT_GC_GRACE_MS, the one `slipway gc` uses too.
   */
  graceMs?: number;
  /** Also remove manifests no tag holds (and that no kept index or subject needs). Default false. */
  pruneUntagged?: boolean;
  /** Upload sessions untouched this long are dropped. Default: the store's (24 hours). */
  ingestMaxAgeMs?: number;
  onEvent?: (event: RegistryEvent) => void;
}

export interface OnlineGc {
  /** Runs one collection now (after the one in progress, if any). */
  runNow(): Promise<GcReport>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Garbage collection while the registry serves pushes: the store's mark and sweep
 * runs under its GC lock (writers wait a moment, nothing referenced is lost), and a
 * grace period keeps the blobs of pushes whose manifest has not arrived yet.
 *
 * @example
 * const gc = startGc(store, { intervalMs: 3_600_000, graceMs: 3_600_000 });
 * ...
 * await gc.stop();
 */
export function startGc(store: LocalStore, options: OnlineGcOptions): OnlineGc {
  let running: Promise<GcReport> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const run = (): Promise<GcReport> => {
    const previous = running ?? Promise.resolve(undefined);
    const next = previous.catch(() => undefined).then(() => collectOnce(store, options));
    running = next;
    void next
      .finally(() => {
        if (running === next) running = undefined;
      })
      .catch(() => undefined);
    return next;
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      run()
        .catch(() => undefined)
        .finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    runNow: run,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}

/** One run: prune old untagged manifests if asked, then collect; reported to onEvent. */
async function collectOnce(store: LocalStore, options: OnlineGcOptions): Promise<GcReport> {
  const started = performance.now();
  let prunedManifests = 0;
  try {
    const graceMs = options.graceMs ?? DEFAULT_GC_GRACE_MS;
    if (options.pruneUntagged) {
      const createdBefore = new Date(Date.now() - graceMs).toISOString();
      prunedManifests = (await store.pruneUntagged({ createdBefore })).deleted.length;
    }
    const report = await store.gc({
      linkGraceMs: graceMs,
      ...(options.ingestMaxAgeMs === undefined ? {} : { ingestMaxAgeMs: options.ingestMaxAgeMs }),
    });
    options.onEvent?.({ type: 'gc', report, prunedManifests, durationMs: performance.now() - started });
    return report;
  } catch (error) {
    options.onEvent?.({ type: 'gc', prunedManifests, durationMs: performance.now() - started, error });
    throw error;
  }
}
