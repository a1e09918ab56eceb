import { SlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Platform } from '../oci/types.js';
import { formatTransport, type TransportRef } from '../oci/transport.js';
import { pickImage } from '../image/pick.js';
import type { Artifact } from '../image/types.js';
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

/**
 * Deletes the manifest a registry reference names (by digest, as registries
 * require: a tag is resolved first, and every tag on that manifest goes with it).
 */
export async function deleteRemote(ref: TransportRef, registries: Registries = new Registries()): Promise<Digest> {
  if (ref.transport !== 'docker') {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `${formatTransport(ref)} is not a registry image; remove local images with slipway rm`,
    );
  }
  const { reference } = ref;
  const client = await registries.client(reference.domain, reference.path);
  let digest = reference.digest;
  if (!digest) {
    const head = await client.headManifest(reference.path, reference.tag ?? 'latest', MANIFEST_ACCEPT);
    if (!head) throw notFound(ref);
    digest =
      head.digest ?? (await client.getManifest(reference.path, reference.tag ?? 'latest', MANIFEST_ACCEPT)).digest;
  }
  await client.deleteManifest(reference.path, digest);
  return digest;
}

function notFound(ref: TransportRef): SlipwayError {
  return new SlipwayError('MANIFEST_UNKNOWN', `${formatTransport(ref)} does not exist`);
}
