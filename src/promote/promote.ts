import type { TransportRef } from '../oci/transport.js';
import type { LocalStore } from '../store/local-store.js';
import { copy, type CopyOptions, type CopyReport } from '../copy/copy.js';

/**
 * Promotes an image from one place to another with the same digest: the exact
 * manifest (or whole index, unless a platform is named) and blobs, only those the
 * destination lacks, mounted when both are repositories of one registry. Anything
 * that would change the digest (re-compression, a docker archive) is refused, so
 * what was tested is, bit for bit, what is deployed.
 *
 * @example
 * const { digest } = await promote(parseTransport('docker://staging.example/app:v7'), parseTransport('docker://prod.example/app:v7'), openStore);
 */
export function promote(
  src: TransportRef,
  dst: TransportRef,
  store: () => Promise<LocalStore>,
  options: Omit<CopyOptions, 'keepDigest' | 'all' | 'compression'> = {},
): Promise<CopyReport> {
  return copy(src, dst, store, { ...options, all: options.platform === undefined, keepDigest: true });
}
