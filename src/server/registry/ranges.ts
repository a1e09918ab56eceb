/**
 * Byte ranges as the registry reads them: `Range` on a blob GET (RFC 9110 section 14,
 * one range only) and `Content-Range` on an upload chunk (the spec's `start-end`).
 */

/** An inclusive byte range within a blob. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * What a `Range: bytes=…` header asks of a blob of `size` bytes: `undefined` when the
 * header is absent or not one we honour (several ranges, another unit: RFC 9110 lets a
 * server ignore those and send the whole blob), `'unsatisfiable'` for a range outside
 * the blob or with start after end, else the range clamped to the blob.
 *
 * @example blobRange('bytes=-500', 2048) // { start: 1548, end: 2047 }
 */
export function blobRange(header: string | null | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (m === null || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/**
 * Parses an upload chunk's `Content-Range`: `start-end` as the spec writes it, also
 * accepting the RFC form `bytes start-end/total` some clients send. Undefined when
 * the header is absent; throws (via `invalid`) when it is malformed.
 */
export function chunkRange(
  header: string | null | undefined,
  invalid: (reason: string) => Error,
): ByteRange | undefined {
  if (header === null || header === undefined || header === '') return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (m === null) throw invalid(`Content-Range "${header}" is not of the form start-end`);
  return { start: Number(m[1]), end: Number(m[2]) };
}

/** The `Range` header of an upload holding `size` bytes: `0-<last byte>`, and `0-0` when empty, as Distribution writes it. */
export function uploadRangeHeader(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}
