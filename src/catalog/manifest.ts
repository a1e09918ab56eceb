import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { SlipwayError } from '../errors.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { Platform } from '../oci/types.js';
import { formatTransport, type TransportRef } from '../oci/transport.js';
import { pickImage } from '../image/pick.js';
import type { Artifact } from '../image/types.js';
import type { RegistryClient } from '../registry/client/client.js';
import { Registries } from '../registry/client/registries.js';
import { MANIFEST_ACCEPT } from '../registry/client/remote-source.js';
import type { LocalStore } from '../store/local-store.js';
import { withSource } from '../transport/open.js';

export interface RawManifest {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
}

export interface ManifestQuery {
  /** From an index, the manifest of this platform's image instead of the index. */
  platform?: Platform;
  registries?: Registries;
}

/**
 * The exact manifest or index bytes an image reference names, from any transport
 * (as `crane manifest` / `skopeo inspect --raw`).
 *
 * @example
 * const { bytes } = await manifestOf(parseTransport('docker://127.0.0.1:5000/app:v1'), openStore);
 */
export function manifestOf(
  ref: TransportRef,
  store: () => Promise<LocalStore>,
  query: ManifestQuery = {},
): Promise<RawManifest> {
  return withSource(
    ref,
    store,
    async ({ artifact }) => {
      const chosen: Artifact = query.platform ? await pickImage(artifact, query.platform) : artifact;
      return chosen.kind === 'image'
        ? {
            digest: await chosen.image.digest(),
            mediaType: await chosen.image.mediaType(),
            bytes: await chosen.image.rawManifest(),
          }
        : {
            digest: await chosen.index.digest(),
            mediaType: await chosen.index.mediaType(),
            bytes: await chosen.index.rawIndex(),
          };
    },
    query.registries,
  );
}

/**
 * The digest an image reference names. For a registry it is one HEAD request (as
 * `crane digest`), unless a platform must be picked out of an index.
 */
export async function digestOfReference(
  ref: TransportRef,
  store: () => Promise<LocalStore>,
  query: ManifestQuery = {},
): Promise<Digest> {
  if (ref.transport === 'docker' && !query.platform) {
    const { reference } = ref;
    if (reference.digest) return reference.digest;
    const client = await (query.registries ?? new Registries()).client(reference.domain, reference.path);
    const head = await client.headManifest(reference.path, reference.tag ?? 'latest', MANIFEST_ACCEPT);
    if (!head) throw notFound(ref);
    if (head.digest) return head.digest;
  }
  return (await manifestOf(ref, store, query)).digest;
}

export interface RemoteDeleteReport {
  /** The manifest the reference named. */
  digest: Digest;
  /** The tags removed (by digest or --all-tags: every tag that named the manifest). */
  untagged: string[];
  /** The manifests removed: empty when only a tag went. */
  deleted: Digest[];
  /**
   * How a tag went: `tag` (the registry deleted the tag, OCI distribution 1.1) or
   * `re-pointed` (the registry refused tag deletion: the tag was moved to a placeholder
   * manifest, which was then deleted by digest). Absent for a manifest delete.
   */
  method?: 'tag' | 're-pointed';
}

/**
 * Deletes what a registry reference names. `HOST/NAME:TAG`: that tag only; the manifest
 * and its other tags stay (DELETE by tag, else re-pointing the tag at a placeholder
 * manifest and deleting that, on registries that refuse tag deletion).
 * `HOST/NAME@DIGEST`, or `allTags`: the manifest, and with it every tag naming it (the
 * report lists them).
 *
 * @example
 * await deleteRemote(parseRegistryTransport('127.0.0.1:5000/team/app:old'));  // only :old goes
 */
export async function deleteRemote(
  ref: TransportRef,
  registries: Registries = new Registries(),
  options: { allTags?: boolean } = {},
): Promise<RemoteDeleteReport> {
  if (ref.transport !== 'docker') {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `${formatTransport(ref)} is not a registry image; remove local images with slipway rmi`,
    );
  }
  const { reference } = ref;
  const client = await registries.client(reference.domain, reference.path);
  const tag = reference.tag ?? 'latest';
  let digest = reference.digest;
  if (!digest) {
    const head = await client.headManifest(reference.path, tag, MANIFEST_ACCEPT);
    if (!head) throw notFound(ref);
    digest = head.digest ?? (await client.getManifest(reference.path, tag, MANIFEST_ACCEPT)).digest;
    if (!options.allTags) {
      if (await client.deleteTag(reference.path, tag)) return { digest, untagged: [tag], deleted: [], method: 'tag' };
      await repointAndDelete(client, reference.path, tag);
      return { digest, untagged: [tag], deleted: [], method: 're-pointed' };
    }
  }
  const untagged = await tagsNaming(client, reference.path, digest);
  await client.deleteManifest(reference.path, digest);
  return { digest, untagged, deleted: [digest] };
}

/** The empty JSON object, the config of the placeholder manifest (image-spec's empty descriptor). */
const EMPTY_JSON = Buffer.from('{}');

/**
 * Removes `tag` on a registry that deletes manifests only by digest: pushes a
 * placeholder manifest (empty config, no layers, a unique annotation so no other tag
 * shares it) to the tag, then deletes that placeholder by digest, and the tag with it.
 */
async function repointAndDelete(client: RegistryClient, repo: string, tag: string): Promise<void> {
  const emptyDigest = digestOf(EMPTY_JSON);
  if (!(await client.hasBlob(repo, emptyDigest))) {
    await client.putBlob(repo, Readable.from([EMPTY_JSON]), { digest: emptyDigest, size: EMPTY_JSON.length });
  }
  const placeholder = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciEmpty, digest: emptyDigest, size: EMPTY_JSON.length },
      layers: [],
      annotations: {
        'org.opencontainers.image.description': `placeholder of slipway delete ${repo}:${tag}`,
        'dev.slipway.delete.nonce': randomUUID(),
      },
    }),
  );
  const placeholderDigest = await client.putManifest(repo, tag, placeholder, MediaType.OciManifest);
  await client.deleteManifest(repo, placeholderDigest);
}

/** The tags of `repo` that name `digest` (one HEAD per tag, a few at a time). */
async function tagsNaming(client: RegistryClient, repo: string, digest: Digest): Promise<string[]> {
  const tags = await client.listTags(repo).catch((err: unknown) => {
    if (err instanceof SlipwayError && (err.code === 'NAME_UNKNOWN' || err.code === 'NOT_FOUND')) return [];
    throw err;
  });
  const naming: string[] = [];
  for (let i = 0; i < tags.length; i += 8) {
    const heads = await Promise.all(
      tags.slice(i, i + 8).map(async (t) => ({ t, head: await client.headManifest(repo, t, MANIFEST_ACCEPT) })),
    );
    for (const { t, head } of heads) if (head?.digest === digest) naming.push(t);
  }
  return naming;
}

function notFound(ref: TransportRef): SlipwayError {
  return new SlipwayError('MANIFEST_UNKNOWN', `${formatTransport(ref)} does not exist`);
}
