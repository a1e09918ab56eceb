import type { Readable } from 'node:stream';
import { SlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Layer } from './types.js';

/** A layer known only by its descriptor values (after it was written somewhere). */
export class DescribedLayer implements Layer {
  constructor(
    readonly mediaType: string,
    private readonly d: Digest,
    private readonly n: number,
    private readonly diff: Digest,
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
  compressed(): Promise<Readable> {
    throw new SlipwayError('UNSUPPORTED', `layer ${this.d} is known by its descriptor only; read it from where it was written`);
  }
  uncompressed(): Promise<Readable> {
    throw new SlipwayError('UNSUPPORTED', `layer ${this.d} is known by its descriptor only; read it from where it was written`);
  }
}
