import { SlipwayError, isSlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Platform } from '../oci/types.js';
import { formatTransport, parseTransport, type TransportRef } from '../oci/transport.js';
import { pickImage } from '../image/pick.js';
import type { Artifact, Image } from '../image/types.js';
import type { LocalStore } from '../store/local-store.js';
import { withSource } from '../transport/open.js';
import type { Registries } from '../registry/client/registries.js';
import { digestReference } from './run-image-name.js';
import type { NewBase } from './rebase-image.js';

/** A run image (or old base) opened by name: one image, or an index to pick a platform from. */
export interface OpenedBase {
  name: string;
  ref: TransportRef;
  artifact: Artifact;
  /** The digest the name resolved to (of the index, for a multi-platform run image). */
  digest: Digest;
}

/**
 * Opens images by name once per operation: a fleet rebase resolves `default/run:latest`
 * a single time for a thousand apps.
 */
export class BaseImages {
  readonly #opened = new Map<string, Promise<OpenedBase>>();

  constructor(
    private readonly store: () => Promise<LocalStore>,
    private readonly registries: Registries,
  ) {}

  open(name: string): Promise<OpenedBase> {
    let p = this.#opened.get(name);
    if (!p) {
      p = openBase(name, this.store, this.registries);
      this.#opened.set(name, p);
      p.catch(() => this.#opened.delete(name));
    }
    return p;
  }

  /** The first of `names` that can be read (the recorded run image, then its mirrors). */
  async openFirst(names: string[], what: string): Promise<OpenedBase> {
    const failures: string[] = [];
    for (const name of names) {
      try {
        return await this.open(name);
      } catch (err) {
        if (
          !isSlipwayError(err) ||
          !['NOT_FOUND', 'MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'IO_ERROR', 'UNAUTHORIZED', 'DENIED'].includes(err.code)
        )
          throw err;
        failures.push(`${name}: ${err.message}`);
      }
    }
    if (names.length === 0)
      throw new SlipwayError('INVALID_ARGUMENT', `${what} records no run image: give one with --run-image REF`);
    throw new SlipwayError(
      'NOT_FOUND',
      `none of the run images ${what} records can be read (${failures.join('; ')}): give one with --run-image REF`,
    );
  }
}

/** The image of `base` for a platform, as a NewBase (its digest reference is what the label records). */
export async function baseFor(base: OpenedBase, platform: Platform): Promise<NewBase> {
  const { image } = await pickImage(base.artifact, platform);
  const digest = await image.digest();
  return { image, name: base.name, digest, reference: digestReference(base.ref, digest) };
}

/** The image `name` pointed at when it had digest `digest` (an OCI base annotation pair). */
export async function imageAtDigest(
  bases: BaseImages,
  name: string,
  digest: Digest,
  platform: Platform,
): Promise<Image> {
  const ref = parseTransport(name);
  const pinned =
    ref.transport === 'docker'
      ? `docker://${ref.reference.name}@${digest}`
      : ref.transport === 'local'
        ? `${ref.name}@${digest}`
        : name;
  return (await pickImage((await bases.open(pinned)).artifact, platform)).image;
}

async function openBase(name: string, store: () => Promise<LocalStore>, registries: Registries): Promise<OpenedBase> {
  const ref = parseTransport(name);
  if (ref.transport === 'docker-archive' || ref.transport === 'oci-archive') {
    throw new SlipwayError(
      'UNSUPPORTED',
      `run images are read from the store, a registry or an OCI layout, not ${formatTransport(ref)}: import it first (slipway copy ${name} NAME:TAG)`,
    );
  }
  // Local, registry and layout sources need no clean-up, so the artifact may outlive the callback.
  return withSource(
    ref,
    store,
    async (src) => {
      const digest =
        src.descriptor?.digest ??
        (src.artifact.kind === 'image' ? await src.artifact.image.digest() : await src.artifact.index.digest());
      return { name, ref, artifact: src.artifact, digest };
    },
    registries,
  );
}
