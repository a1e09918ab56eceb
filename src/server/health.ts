import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import type { Handler } from 'hono';
import type { LocalStore } from '../store/local-store.js';

/** One named probe; it throws (or rejects) when its part of the server is unwell. */
export type HealthCheck = () => Promise<void>;

/**
 * The store's probes, cheap enough to run on every `/healthz`: one metadata read (a
 * single repository name, from SQLite) and a look at the blob directory, both of
 * which every pull and push needs.
 */
export function storeChecks(store: Pick<LocalStore, 'home' | 'meta' | 'blobs'>): Record<string, HealthCheck> {
  return {
    metadata: async () => {
      await store.meta.listRepositories({ n: 1 });
    },
    blobs: () =>
      store.blobs.probe
        ? store.blobs.probe()
        : access(join(store.home, 'blobs'), constants.R_OK | constants.W_OK | constants.X_OK),
  };
}

/**
 * `GET /healthz` (and HEAD): 200 `{status: "ok", checks: {...}}` when every probe
 * passes within `timeoutMs`, else 503 naming the failing probe and why, so a load
 * balancer takes the node out and a person sees the cause.
 *
 * @example root.get('/healthz', healthHandler(storeChecks(store)));
 */
export function healthHandler(checks: Record<string, HealthCheck>, options: { timeoutMs?: number } = {}): Handler {
  const timeoutMs = options.timeoutMs ?? 2000;
  return async (c) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => [name, await probe(check, timeoutMs)] as const),
    );
    const healthy = results.every(([, result]) => result === 'ok');
    return c.json(
      { status: healthy ? 'ok' : 'unavailable', checks: Object.fromEntries(results) },
      healthy ? 200 : 503,
      { 'Cache-Control': 'no-store' },
    );
  };
}

/** 'ok', or the failure's message; a probe that hangs fails at the timeout. */
async function probe(check: HealthCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'ok';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}
