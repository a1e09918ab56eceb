import { SlipwayError } from '../errors.js';

/**
 * How deeply arrays and objects may nest in a document we parse. OCI manifests,
 * indexes and configs nest five or six levels; a hostile one nested millions deep
 * costs seconds of JSON.parse and schema checks on the event loop (and then a stack
 * overflow), so anything deeper is refused before it is parsed.
 */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Throws INVALID_DOCUMENT (naming the limit) when the JSON text nests arrays and
 * objects deeper than `maxDepth`. A single pass over the bytes that skips strings
 * (escapes included); it stops at the first level too deep, so a hostile document
 * costs a few bytes of work, and a 4 MB manifest a few milliseconds. It does not check the JSON is well formed:
 * JSON.parse does that afterwards. Bytes of a multi-byte UTF-8 character are all
 * >= 0x80, so scanning bytes never mistakes one for a bracket or a quote.
 *
 * @example checkJsonDepth(bytes, 64, 'manifest')
 */
export function checkJsonDepth(input: Uint8Array | string, maxDepth = MAX_JSON_DEPTH, what = 'document'): void {
  const offset = typeof input === 'string' ? tooDeepAt(input, maxDepth) : tooDeepAtBytes(input, maxDepth);
  if (offset < 0) return;
  throw new SlipwayError(
    'INVALID_DOCUMENT',
    `${what} nests arrays and objects deeper than ${maxDepth} levels (at byte ${offset}), which is refused before parsing`,
    {
      detail: { maxDepth, offset },
    },
  );
}

// Two copies of one loop, for bytes and for text: a shared accessor costs the hot loop a call per byte.

/** The offset of the first bracket deeper than `maxDepth`, or -1. */
function tooDeepAtBytes(bytes: Uint8Array, maxDepth: number): number {
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      // Skip the string: to the next quote not escaped by the backslash before it.
      for (i++; i < bytes.length; i++) {
        const s = bytes[i]!;
        if (s === BACKSLASH) i++;
        else if (s === QUOTE) break;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return i;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return -1;
}

function tooDeepAt(text: string, maxDepth: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === BACKSLASH) i++;
        else if (s === QUOTE) break;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return i;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return -1;
}
