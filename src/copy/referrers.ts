import { SlipwayError } from '../errors.js';
import { digestHex, type Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../oci/types.js';
import type { TransportRef } from '../oci/transport.js';
import type { BlobSource } from '../image/blob-source.js';
import { canonicalJson } from '../image/json.js';
import type { LocalStore } from '../store/local-store.js';
import type { ContentDestination } from '../transport/destination.js';
import { localDestination, storeBlobSource } from '../transport/local.js';
import { RemoteDestination } from '../transport/remote-destination.js';
import type { Registries } from '../registry/client/registries.js';
import type { RegistryClient } from '../registry/client/client.js';
import { RemoteBlobSource } from '../registry/client/remote-source.js';

/** The fallback tag of the distribution spec for registries without the referrers API: `sha256-<hex>`. */
export function fallbackTag(subject: Digest): string {
  return `${subject.split(':')[0]}-${digestHex(subject)}`;
}

/** The source's referrers of `subject`, asked for ahead (see listReferrers). */
export interface ListedReferrers {
  subject: Digest;
  found: Promise<Descriptor[]>;
}

/**
 * Starts listing the source's referrers of `subject` while the image itself is copied:
 * against a registry without the referrers API that is two round trips (the API's
 * 404, then the fallback tag's), which then cost no wall time. Undefined for
 * transports that carry no referrers. A failure surfaces where the list is awaited.
 */
export function listReferrers(
  src: TransportRef,
  subject: Digest,
  store: () => Promise<LocalStore>,
  registries: Registries,
): ListedReferrers | undefined {
  if (src.transport !== 'local' && src.transport !== 'docker') return undefined;
  const found = referrerSource(src, store, registries).then((source) => source?.list(subject) ?? []);
  // Awaited only if the copy gets that far; until then a rejection is not unhandled.
  found.catch(() => undefined);
  return { subject, found };
}

interface ReferrerSource {
  list(subject: Digest): Promise<Descriptor[]>;
  blobs: BlobSource;
}

/**
 * Copies the referrers of `subject` (SBOMs, scan results, signatures) from where the
 * image came from to where it went, byte for byte, so their digests are kept. Between
 * the local store and registries: the referrers API where the registry has it, the
 * fallback tag scheme (an index at `sha256-<hex>` listing them) where it has not, on
 * both ends. Other transports carry no referrers. Returns the referrers copied.
 */
export async function copyReferrers(
  src: TransportRef,
  dst: TransportRef,
  subject: Digest,
  store: () => Promise<LocalStore>,
  registries: Registries,
  listed?: ListedReferrers,
): Promise<Descriptor[]> {
  const source = await referrerSource(src, store, registries);
  if (!source) return [];
  const found = listed?.subject === subject ? await listed.found : await source.list(subject);
  if (found.length === 0) return [];
  let client: RegistryClient | undefined;
  let dest: ContentDestination;
  if (dst.transport === 'local') dest = await localDestination(await store(), dst.name, undefined);
  else if (dst.transport === 'docker') {
    client = await registries.client(dst.reference.domain, dst.reference.path);
    dest = new RemoteDestination(client, dst.reference.path, undefined);
  } else return [];
  const copied: Descriptor[] = [];
  let ok = false;
  try {
    for (const desc of found) {
      const raw = await source.blobs.read(desc.digest);
      const manifest = JSON.parse(raw.toString('utf8')) as ImageManifest;
      if (manifest.subject?.digest !== subject) continue;
      for (const blob of [manifest.config, ...(manifest.layers ?? [])]) {
        if (await dest.hasBlob(blob.digest)) continue;
        await dest.putBlob(await source.blobs.open(blob.digest, blob.size), { digest: blob.digest, size: blob.size });
      }
      await dest.putManifest(raw, desc.mediaType, false);
      copied.push(desc);
    }
    ok = true;
  } finally {
    await dest.close(ok);
  }
  if (client && dst.transport === 'docker' && copied.length > 0) {
    await ensureListed(client, dst.reference.path, subject, copied);
  }
  return copied;
}

async function referrerSource(
  src: TransportRef,
  store: () => Promise<LocalStore>,
  registries: Registries,
): Promise<ReferrerSource | undefined> {
  if (src.transport === 'local') {
    const s = await store();
    return {
      list: async (subject) =>
        (await s.meta.referrers(src.name, subject))
          .sort((a, b) => (a.digest < b.digest ? -1 : 1))
          .map((r) => ({
            mediaType: r.mediaType,
            digest: r.digest,
            size: r.size,
            ...(r.artifactType ? { artifactType: r.artifactType } : {}),
            ...(r.annotations ? { annotations: r.annotations } : {}),
          })),
      blobs: storeBlobSource(s),
    };
  }
  if (src.transport === 'docker') {
    const client = await registries.client(src.reference.domain, src.reference.path);
    const repo = src.reference.path;
    return {
      list: async (subject) =>
        (await client.referrers(repo, subject)) ?? (await fallbackIndex(client, repo, subject)).manifests,
      blobs: new RemoteBlobSource(client, repo),
    };
  }
  return undefined;
}

/** The fallback tag's index, or an empty one when the tag is not there. */
async function fallbackIndex(client: RegistryClient, repo: string, subject: Digest): Promise<ImageIndex> {
  try {
    const m = await client.getManifest(repo, fallbackTag(subject), [MediaType.OciIndex]);
    const index = JSON.parse(m.bytes.toString('utf8')) as ImageIndex;
    return { ...index, manifests: Array.isArray(index.manifests) ? index.manifests : [] };
  } catch (err) {
    if (
      err instanceof SlipwayError &&
      (err.code === 'MANIFEST_UNKNOWN' || err.code === 'NOT_FOUND' || err.code === 'NAME_UNKNOWN')
    )
      return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    throw err;
  }
}

/**
 * After a push: a registry with the referrers API lists the referrers by their
 * `subject` on its own; for one without, the fallback tag's index gets them added.
 */
async function ensureListed(client: RegistryClient, repo: string, subject: Digest, added: Descriptor[]): Promise<void> {
  if ((await client.referrers(repo, subject)) !== undefined) return;
  const index = await fallbackIndex(client, repo, subject);
  const have = new Set(index.manifests.map((m) => m.digest));
  const missing = added.filter((d) => !have.has(d.digest));
  if (missing.length === 0) return;
  const next: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [...index.manifests, ...missing],
  };
  await client.putManifest(repo, fallbackTag(subject), canonicalJson(next), MediaType.OciIndex);
}
