import { Transform, type TransformCallback } from 'node:stream';
import { SlipwayError } from '../errors.js';

const BLOCK = 512;

/**
 * True when `block` (the first 512 bytes of a stream) is a tar header: its checksum
 * field matches the sum of its bytes (with the field itself counted as spaces), or
 * it is the all-zero end-of-archive block of an empty tar.
 */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < BLOCK) return false;
  if (block.every((b) => b === 0)) return true;
  const field = Buffer.from(block.subarray(148, 156))
    .toString('latin1')
    .replace(/[\0 ]+$/g, '')
    .trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum === parseInt(field, 8);
}

/**
 * A pass-through that fails the stream unless it starts with a tar header, so a file
 * that is not a tarball is refused before it becomes a layer. `what` names the input.
 */
export function expectTar(what: string): Transform {
  let head: Buffer | undefined = Buffer.alloc(0);
  const check = (stream: Transform, done: TransformCallback, final: boolean) => {
    if (!head || (!final && head.length < BLOCK)) return done();
    const ok = isTarHeader(head.subarray(0, BLOCK));
    const pending = head;
    head = undefined;
    if (!ok)
      return done(
        new SlipwayError(
          'INVALID_ARCHIVE',
          `${what} is not a tar archive (plain, gzip or zstd); give a root filesystem tarball or directory`,
        ),
      );
    stream.push(pending);
    done();
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (!head) return done(null, chunk);
      head = Buffer.concat([head, chunk]);
      check(this, done, false);
    },
    flush(done) {
      check(this, done, true);
    },
  });
}
