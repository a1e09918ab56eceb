import type { Readable } from 'node:stream';
import { SlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Layer } from './types.js';

/**
 * A layer known by its descriptor values (after it was written somewhere). Subclasses
 * that know where its bytes are override `compressed` and `uncompressed`.
 */
export class DescribedLayer implements Layer {
  constructor(
    readonly mediaType: string,
    protected readonly d: Digest,
    protected readonly n: number,
    protected readonly diff: Digest,
    readonly annotations?: Record<string, string>,
  ) {}
  async digest() {
    return this.d;
  }
  async diffId() {
    return this.diff;
  }
  async size() {
    return this.n;
  }
  async compressed(): Promise<Readable> {
    throw new SlipwayError(
      'UNSUPPORTED',
      `layer ${this.d} is known by its descriptor only; read it from where it was written`,
    );
  }
  async uncompressed(): Promise<Readable> {
    throw new SlipwayError(
      'UNSUPPORTED',
      `layer ${this.d} is known by its descriptor only; read it from where it was written`,
    );
  }
}
