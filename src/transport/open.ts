import { SlipwayError } from '../errors.js';
import type { Descriptor } from '../oci/types.js';
import type { TransportRef } from '../oci/transport.js';
import { artifactFromBlobs } from '../image/blob-image.js';
import type { Artifact } from '../image/types.js';
import type { LocalStore } from '../store/local-store.js';
import type { ContentDestination } from './destination.js';
import { localDestination, readLocal } from './local.js';
import { OciLayout } from './oci-layout.js';
import type { Registries } from '../registry/client/registries.js';

// The archive and registry transports are imported where they are used: a local image's
// `inspect` or `rebase` then starts without the registry client, tar and zstd (issue 23).
const newRegistries = async () => new (await import('../registry/client/registries.js')).Registries();

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
 * Registry images are read lazily: layers are fetched only when `fn` opens them.
 */
export async function withSource<T>(
  ref: TransportRef,
  store: () => Promise<LocalStore>,
  fn: (src: OpenedSource) => Promise<T>,
  registries?: Registries,
): Promise<T> {
  switch (ref.transport) {
    case 'local': {
      const { artifact, descriptor } = await readLocal(await store(), ref.name, ref.digest ?? ref.tag ?? 'latest');
      return fn({ artifact, descriptor, names: [`${ref.name}:${ref.tag ?? 'latest'}`] });
    }
    case 'oci':
      return fn(await openLayout(await OciLayout.open(ref.dir), ref.ref));
    case 'oci-archive': {
      const { unpackArchive, withTempDir } = await import('./archive.js');
      return withTempDir('oci-archive', async (dir) => {
        await unpackArchive(ref.file, dir);
        return fn(await openLayout(await OciLayout.open(dir), ref.ref));
      });
    }
    case 'docker-archive': {
      const { withDockerArchive } = await import('./docker-archive.js');
      return withDockerArchive(ref.file, ref.ref, (image, repoTags) =>
        fn({ artifact: { kind: 'image', image }, names: repoTags }),
      );
    }
    case 'docker': {
      const { reference } = ref;
      const { RemoteBlobSource } = await import('../registry/client/remote-source.js');
      const client = await (registries ?? (await newRegistries())).client(reference.domain, reference.path);
      const source = new RemoteBlobSource(client, reference.path);
      const descriptor = await source.resolve(reference.digest ?? reference.tag ?? 'latest');
      return fn({ artifact: await artifactFromBlobs(source, descriptor), descriptor, names: [reference.toString()] });
    }
    case 'droplet':
      // A droplet becomes an image over a stack's run image (src/droplet, a use case above the transports): copy opens it.
      throw new SlipwayError(
        'UNSUPPORTED',
        `droplet:${ref.file} is read by slipway copy and slipway droplet import; copy it into the store first, e.g. slipway copy droplet:${ref.file} apps/web`,
      );
  }
}

async function openLayout(layout: OciLayout, ref: string | undefined): Promise<OpenedSource> {
  const descriptor = await layout.resolve(ref);
  return { artifact: await artifactFromBlobs(layout, descriptor), descriptor, names: ref ? [ref] : [] };
}

export interface DestinationOptions {
  registries?: Registries;
  /** A repository of the destination registry holding the blobs already (the source), to mount from. */
  mountFrom?: string;
}

/**
 * A content-addressed destination for a transport reference, or undefined for
 * docker-archive, which is written whole by writeDockerArchive instead.
 */
export async function openDestination(
  ref: TransportRef,
  store: () => Promise<LocalStore>,
  options: DestinationOptions = {},
): Promise<ContentDestination | undefined> {
  switch (ref.transport) {
    case 'local':
      return localDestination(await store(), ref.name, ref.tag ?? 'latest');
    case 'oci':
      return (await OciLayout.create(ref.dir)).destination(ref.ref);
    case 'oci-archive':
    case 'docker-archive':
      return undefined;
    case 'droplet':
      throw new SlipwayError(
        'UNSUPPORTED',
        `droplet:${ref.file} can only be read; write a droplet with slipway droplet export IMAGE -o ${ref.file}`,
      );
    case 'docker': {
      const { reference } = ref;
      const client = await (options.registries ?? (await newRegistries())).client(reference.domain, reference.path);
      const { RemoteDestination } = await import('./remote-destination.js');
      return new RemoteDestination(
        client,
        reference.path,
        reference.digest && !reference.tag ? undefined : (reference.tag ?? 'latest'),
        options.mountFrom,
      );
    }
  }
}
