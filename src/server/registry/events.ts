import type { Digest } from '../../oci/digest.js';
import type { GcReport } from '../../store/local-store.js';
import type { RouteKind } from './paths.js';

/**
 * What the registry reports to `onEvent`, for metrics (/metrics counts requests by
 * route and status, bytes in and out, upload sessions, GC runs) and logs. Listeners
 * run synchronously on the request path: keep them cheap and never throw.
 */
export type RegistryEvent =
  | {
      type: 'request';
      method: string;
      /** Which endpoint, or 'other' for a path that is none. */
      route: RouteKind | 'other';
      status: number;
      durationMs: number;
      /** Body bytes received (uploads, manifests) and content sent (manifests, blobs; a HEAD sends none). */
      bytesIn: number;
      bytesOut: number;
    }
  | { type: 'upload'; action: 'started' | 'completed' | 'cancelled' | 'failed'; repository: string; bytes?: number }
  | { type: 'manifest'; action: 'pushed' | 'deleted'; repository: string; digest: Digest }
  | { type: 'gc'; report?: GcReport; prunedManifests: number; durationMs: number; error?: unknown };
