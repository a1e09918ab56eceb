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
