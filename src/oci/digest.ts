import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { SlipwayError } from '../errors.js';

/**
 * A content digest `algorithm:encoded` as the OCI image spec defines it
 * (descriptor.md#digests). Only the registered algorithms sha256 and sha512 are
 * accepted, with lowercase hex of the exact length.
 */
export type Digest = string & { readonly __digest: unique symbol };
export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
// The grammar of descriptor.md: algorithm-component ([a-z0-9]+) joined by [+._-], then ':' and encoded.
const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(value: unknown): value is Digest {
  if (typeof value !== 'string') return false;
  const colon = value.indexOf(':');
  const alg = value.slice(0, colon) as DigestAlgorithm;
  const hex = value.slice(colon + 1);
  return colon > 0 && alg in HEX_LENGTH && hex.length === HEX_LENGTH[alg] && /^[a-f0-9]+$/.test(hex);
}

/** Parses and validates a digest string; the error says what is wrong with it. */
export function parseDigest(value: string, what = 'digest'): Digest {
  if (isDigest(value)) return value;
  let reason: string;
  if (typeof value !== 'string' || !GRAMMAR.test(value)) reason = 'it is not of the form algorithm:hex';
  else {
    const [alg, hex] = value.split(':') as [string, string];
    if (!(alg in HEX_LENGTH)) reason = `algorithm "${alg}" is not supported (use sha256 or sha512)`;
    else if (!/^[a-f0-9]+$/.test(hex)) reason = 'the encoded part must be lowercase hex';
    else
      reason = `a ${alg} digest has ${HEX_LENGTH[alg as DigestAlgorithm]} hex characters, this one has ${hex.length}`;
  }
  throw new SlipwayError('INVALID_DIGEST', `invalid ${what} "${String(value)}": ${reason}`, { detail: { value } });
}

export function digestAlgorithm(d: Digest): DigestAlgorithm {
  return d.slice(0, d.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

/** Digest of bytes already in memory (manifests, configs: small documents only). */
export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** An incremental digester: feed bytes as they pass, read the digest and byte count at the end. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  #hash: Hash;
  #size = 0;
  #result: Digest | undefined;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    this.algorithm = algorithm;
    this.#hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
  }

  get size(): number {
    return this.#size;
  }

  digest(): Digest {
    this.#result ??= `${this.algorithm}:${this.#hash.digest('hex')}` as Digest;
    return this.#result;
  }
}

/**
 * A pass-through stream that hashes what flows through it. With `expected`, it fails
 * the stream at the end when the digest (or size) differs, so a consumer never mistakes
 * corrupted bytes for the real content.
 */
export class DigestStream extends Transform {
  readonly digester: Digester;
  readonly #expected: Digest | undefined;
  readonly #expectedSize: number | undefined;

  constructor(options: { algorithm?: DigestAlgorithm; expected?: Digest; expectedSize?: number } = {}) {
    super();
    this.#expected = options.expected;
    this.#expectedSize = options.expectedSize;
    this.digester = new Digester(
      options.algorithm ?? (options.expected ? digestAlgorithm(options.expected) : 'sha256'),
    );
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.digester.update(chunk);
    if (this.#expectedSize !== undefined && this.digester.size > this.#expectedSize) {
      done(sizeMismatch(this.#expected, this.#expectedSize, this.digester.size, 'more than'));
      return;
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.#expectedSize !== undefined && this.digester.size !== this.#expectedSize) {
      done(sizeMismatch(this.#expected, this.#expectedSize, this.digester.size, 'only'));
      return;
    }
    const actual = this.digester.digest();
    if (this.#expected !== undefined && actual !== this.#expected) {
      done(
        new SlipwayError('DIGEST_MISMATCH', `content digest mismatch: expected ${this.#expected}, got ${actual}`, {
          detail: { expected: this.#expected, actual },
        }),
      );
      return;
    }
    done();
  }

  digest(): Digest {
    return this.digester.digest();
  }

  get size(): number {
    return this.digester.size;
  }
}

function sizeMismatch(digest: Digest | undefined, expected: number, actual: number, how: string): SlipwayError {
  return new SlipwayError(
    'SIZE_MISMATCH',
    `content ${digest ?? ''} has ${how} ${actual} bytes, expected ${expected}`.replace('  ', ' '),
    {
      detail: { digest, expected, actual },
    },
  );
}

/** Hashes a whole stream (consuming it) and returns digest and size. */
export async function digestStream(
  stream: AsyncIterable<Uint8Array>,
  algorithm: DigestAlgorithm = 'sha256',
): Promise<{ digest: Digest; size: number }> {
  const d = new Digester(algorithm);
  for await (const chunk of stream) d.update(chunk);
  return { digest: d.digest(), size: d.size };
}
