import { SlipwayError } from '../errors.js';
import type { Descriptor } from '../oci/types.js';
import type { TransportRef } from '../oci/transport.js';
import { artifactFromBlobs } from '../image/blob-image.js';
import type { Artifact } from '../image/types.js';
import type { LocalStore } from '../store/local-store.js';
import { unpackArchive, withTempDir } from './archive.js';
import type { ContentDestination } from './destination.js';
import { withDockerArchive } from './docker-archive.js';
import { localDestination, readLocal } from './local.js';
import { OciLayout } from './oci-layout.js';

/** What a source reference opened to. */
export interface OpenedSource {
  artifact: Artifact;
  /** The descriptor of the root manifest/index where the source has one. */
  descriptor?: Descriptor;
  /** Names the source gave the image (docker archive RepoTags, layout ref), to reuse as a default. */
  names: string[];
}

/**
 * Opens any readable transport, runs `fn` with it, and cleans up whatever had to be
 * unpacked (archives are unpacked into a temporary directory for random access).
 */
export async function withSource<T>(ref: TransportRef, store: () => Promise<LocalStore>, fn: (src: OpenedSource) => Promise<T>): Promise<T> {
  switch (ref.transport) {
    case 'local': {
      const { artifact, descriptor } = await readLocal(await store(), ref.name, ref.digest ?? ref.tag ?? 'latest');
      return fn({ artifact, descriptor, names: [`${ref.name}:${ref.tag ?? 'latest'}`] });
    }
    case 'oci':
      return fn(await openLayout(await OciLayout.open(ref.dir), ref.ref));
    case 'oci-archive':
      return withTempDir('oci-archive', async (dir) => {
        await unpackArchive(ref.file, dir);
        return fn(await openLayout(await OciLayout.open(dir), ref.ref));
      });
    case 'docker-archive':
      return withDockerArchive(ref.file, ref.ref, (image, repoTags) => fn({ artifact: { kind: 'image', image }, names: repoTags }));
    case 'docker':
      throw registryNotYet();
  }
}

async function openLayout(layout: OciLayout, ref: string | undefined): Promise<OpenedSource> {
  const descriptor = await layout.resolve(ref);
  return { artifact: await artifactFromBlobs(layout, descriptor), descriptor, names: ref ? [ref] : [] };
}

/**
 * A content-addressed destination for a transport reference, or undefined for
 * docker-archive, which is written whole by writeDockerArchive instead.
 */
export async function openDestination(ref: TransportRef, store: () => Promise<LocalStore>): Promise<ContentDestination | undefined> {
  switch (ref.transport) {
    case 'local':
      return localDestination(await store(), ref.name, ref.tag ?? 'latest');
    case 'oci':
      return (await OciLayout.create(ref.dir)).destination(ref.ref);
    case 'oci-archive':
    case 'docker-archive':
      return undefined;
    case 'docker':
      throw registryNotYet();
  }
}

function registryNotYet(): SlipwayError {
  return new SlipwayError('UNSUPPORTED', 'registry references (docker://, or a name with a registry host) need the registry client, which is not built yet; use the local store, oci:, oci-archive: or docker-archive:');
}
