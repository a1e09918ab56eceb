import { digestAlgorithm, digestOf, type Digest } from '../../oci/digest.js';
import { isForeignLayer, isIndexMediaType, isManifestMediaType } from '../../oci/media-types.js';
import type { Descriptor } from '../../oci/types.js';
import type { LocalStore } from '../../store/local-store.js';
import { manifestContent, type ManifestContent } from '../../store/manifest-content.js';
import { RegistryError, toRegistryError, translate } from './errors.js';

export interface ManifestPush {
  repository: string;
  /** The exact bytes received: stored as they are, digested as they are. */
  bytes: Uint8Array;
  /** The request's Content-Type. */
  contentType: string | undefined;
  /** The digest the client pushed by, verified against the bytes. */
  digest?: Digest;
  tags: string[];
}

export interface PushedManifest {
  descriptor: Descriptor;
  subject?: Digest;
}

/**
 * A manifest PUT as the registry understands it: the media type named by the client,
 * the document valid for it, every blob it needs linked to the repository (a digest
 * alone must not let a client reach another repository's blob), every child manifest
 * in the repository. Missing ones are MANIFEST_BLOB_UNKNOWN, as the spec requires.
 *
 * The bytes are parsed once (a hostile document costs one bounded parse, see
 * oci/json-depth.ts), and what was parsed goes on to the store and the referrers.
 * Foreign layers are left out before anything is looked up: whether the store happens
 * to hold such a digest (in a repository the client cannot read) must not change the
 * answer, or the answer tells the client that blob exists.
 */
export async function pushManifest(store: LocalStore, push: ManifestPush): Promise<PushedManifest> {
  const mediaType = manifestMediaType(push.contentType);
  if (push.digest !== undefined) checkBytesDigest(push.bytes, push.digest);
  const parsed = parseContent(push.bytes, mediaType);
  const content: ManifestContent = { ...parsed, blobs: parsed.blobs.filter((desc) => !isForeignLayer(desc)) };
  await checkBlobsLinked(store, push.repository, content.blobs);
  const descriptor = await translate(
    store.putManifestContent(push.repository, push.bytes, content, {
      tags: push.tags,
      ...(push.digest === undefined ? {} : { expectedDigest: push.digest }),
    }),
    {
      BLOB_UNKNOWN: 'MANIFEST_BLOB_UNKNOWN',
      MANIFEST_UNKNOWN: 'MANIFEST_BLOB_UNKNOWN',
      INVALID_DOCUMENT: 'MANIFEST_INVALID',
      UNSUPPORTED: 'MANIFEST_INVALID',
    },
  );
  return content.subject === undefined ? { descriptor } : { descriptor, subject: content.subject };
}

/** The Content-Type without parameters; it must be one of the four manifest types we store. */
function manifestMediaType(contentType: string | undefined): string {
  const mediaType = contentType?.split(';')[0]?.trim();
  if (!mediaType) {
    throw new RegistryError('MANIFEST_INVALID', 'a manifest PUT needs a Content-Type naming the manifest media type', {
      detail: { contentType },
    });
  }
  if (!isManifestMediaType(mediaType) && !isIndexMediaType(mediaType)) {
    throw new RegistryError(
      'MANIFEST_INVALID',
      `unsupported manifest media type "${mediaType}": push an OCI image manifest or index, or a Docker schema 2 manifest or manifest list`,
      {
        detail: { mediaType },
      },
    );
  }
  return mediaType;
}

function checkBytesDigest(bytes: Uint8Array, digest: Digest): void {
  const actual = digestOf(bytes, digestAlgorithm(digest));
  if (actual !== digest) {
    throw new RegistryError('DIGEST_INVALID', `the manifest pushed as ${digest} has digest ${actual}`, {
      detail: { expected: digest, actual },
    });
  }
}

/** Parses the document; any way it is not a valid manifest of that type is MANIFEST_INVALID. */
function parseContent(bytes: Uint8Array, mediaType: string): ManifestContent {
  try {
    return manifestContent(bytes, mediaType);
  } catch (err) {
    const cause = toRegistryError(err);
    throw new RegistryError('MANIFEST_INVALID', cause.message, { detail: cause.detail, cause: err });
  }
}

/** Every blob (foreign layers already left out) must be linked to the repository: pushed or mounted there. */
async function checkBlobsLinked(store: LocalStore, repository: string, blobs: Descriptor[]): Promise<void> {
  for (const desc of blobs) {
    if (await store.meta.hasBlobLink(repository, desc.digest)) continue;
    throw new RegistryError(
      'MANIFEST_BLOB_UNKNOWN',
      `blob ${desc.digest} (${desc.mediaType}) is not in repository ${repository}: push or mount it first`,
      {
        detail: { digest: desc.digest },
      },
    );
  }
}
