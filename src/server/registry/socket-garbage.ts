import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Frees the socket reads an upload has written and dropped. Node gives every socket
 * read a buffer of its own (64 KiB); the buffers die as soon as they are on disk, but
 * V8 counts them only as external memory, which lets some 64 MB of them pile up before
 * a collection. A young-generation collection every few megabytes of body frees them
 * at a cost of well under a millisecond each, and keeps the server's RSS flat while
 * gigabytes go through. Without the `gc` hook (a runtime that refuses the flag) this
 * does nothing.
 */
export class SocketGarbage {
  static readonly #collect = youngCollector();
  #since = 0;

  constructor(readonly everyBytes = 8 << 20) {}

  /** Counts `bytes` received and dropped; collects when enough have gone by. */
  received(bytes: number): void {
    this.#since += bytes;
    if (this.#since < this.everyBytes) return;
    this.#since = 0;
    SocketGarbage.#collect?.();
  }
}

function youngCollector(): (() => void) | undefined {
  try {
    // The hook a `--expose-gc` start would give, without asking every user for the flag.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as ((options: { type: 'minor' }) => void) | undefined;
    return gc === undefined ? undefined : () => gc({ type: 'minor' });
  } catch {
    return undefined;
  }
}
