/**
 * Keeps metadata writers of this process out of GC's window.
 *
 * SQLite's BEGIN IMMEDIATE makes *other* processes wait while GC runs. Within this
 * process GC's transaction stays open across `await`s on the one connection, so a
 * writer running then would write into GC's transaction (and its lease would not
 * protect anything). Writers therefore pass through this gate, which is closed while
 * GC runs. The check and the write happen in the same tick, so GC cannot slip in between.
 */
export class GcGate {
  #held: Promise<void> | undefined;

  /** Runs the synchronous `fn` once no GC holds the gate. */
  async whenOpen<T>(fn: () => T): Promise<T> {
    while (this.#held) await this.#held;
    return fn();
  }

  /** Runs `fn` with the gate closed; GCs of this process run one at a time. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#held) await this.#held;
    let release!: () => void;
    this.#held = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      return await fn();
    } finally {
      this.#held = undefined;
      release();
    }
  }
}
