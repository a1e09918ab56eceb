import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout } from 'node:timers/promises';
import { SocketGarbage } from './socket-garbage.js';

/** Buffers the size of socket reads, dropped at once, as an upload drops them once written. */
function dropReads(count: number): number {
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += Buffer.allocUnsafeSlow(64 << 10).length;
  return bytes;
}

describe('SocketGarbage', () => {
  it('frees dropped socket reads once enough bytes went by, and not before', async () => {
    const garbage = new SocketGarbage(16 << 20);
    const before = process.memoryUsage().arrayBuffers;
    const dropped = dropReads(256); // 16 MiB
    garbage.received(dropped - 1);
    const held = process.memoryUsage().arrayBuffers - before;
    assert.ok(held > 12 << 20, `the dropped reads are still held before the threshold (${held} bytes)`);
    garbage.received(1);
    await setTimeout(20); // V8 sweeps the freed buffers on a thread of its own
    const left = process.memoryUsage().arrayBuffers - before;
    assert.ok(left < 4 << 20, `the dropped reads are freed at the threshold (${left} bytes left)`);
  });
});
