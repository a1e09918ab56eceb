import { pipeline, type Readable } from 'node:stream';

/**
 * Connects streams like `a.pipe(b).pipe(c)` and returns the last, but unlike `.pipe`
 * forwards an error anywhere in the chain to every stream, so the reader of the last
 * one sees it instead of waiting forever. A leaf module.
 */
export function chain(first: Readable | AsyncIterable<Uint8Array>, ...rest: NodeJS.ReadWriteStream[]): Readable {
  if (rest.length === 0) return first as Readable;
  return (pipeline as unknown as (...args: unknown[]) => Readable)(first, ...rest, () => undefined);
}

/**
 * Re-chunks a byte stream into pieces of at least `minBytes` (the last may be
 * smaller). Network streams arrive in 16-64 KB chunks; writing each to a file is a
 * thread-pool round trip, so fewer, larger writes cost far less CPU.
 */
export async function* coalesce(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  minBytes = 1 << 20,
): AsyncGenerator<Buffer> {
  let parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of source) {
    parts.push(chunk);
    size += chunk.length;
    if (size >= minBytes) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts, size);
}
