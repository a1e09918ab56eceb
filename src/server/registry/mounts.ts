import type { Digest } from '../../oci/digest.js';
import type { LocalStore } from '../../store/local-store.js';
import type { BlobInfo } from '../../store/types.js';

/** How many repositories holding a blob an automatic mount looks at for one the client may read. */
const MOUNT_CANDIDATES = 16;

/**
 * Cross-repository mounts: a blob already in the registry is linked into another
 * repository without its bytes being sent again.
 */

/**
 * Links `digest` into `repository` when `from` has it linked; undefined otherwise
 * (the client then uploads). The link is made first and the blob checked after, so a
 * GC between the two cannot take it (the fresh link keeps it); a blob found gone is
 * unlinked again.
 */
export async function mountBlob(
  store: LocalStore,
  repository: string,
  digest: Digest,
  from: string,
): Promise<BlobInfo | undefined> {
  if (!(await store.meta.hasBlobLink(from, digest))) return undefined;
  return linkIfPresent(store, repository, digest);
}

/**
 * An automatic mount (`?mount=` without `from`, which the spec allows): the blob is
 * linked when some repository holding it is one the client may pull from. Knowing a
 * digest alone must not open another repository's blob, so `mayPull` asks the
 * authenticator about each candidate.
 */
export async function autoMountBlob(
  store: LocalStore,
  repository: string,
  digest: Digest,
  mayPull: (repository: string) => Promise<boolean>,
): Promise<BlobInfo | undefined> {
  if (await store.meta.hasBlobLink(repository, digest)) return linkIfPresent(store, repository, digest);
  for (const candidate of await store.meta.linkedRepositories(digest, MOUNT_CANDIDATES)) {
    if (await mayPull(candidate)) return linkIfPresent(store, repository, digest);
  }
  return undefined;
}

async function linkIfPresent(store: LocalStore, repository: string, digest: Digest): Promise<BlobInfo | undefined> {
  await store.meta.linkBlob(repository, digest);
  const info = await store.blobs.stat(digest);
  if (info === undefined) await store.meta.unlinkBlob(repository, digest);
  return info;
}
