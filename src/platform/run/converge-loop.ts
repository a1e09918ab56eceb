/**
 * The loop an instance backend runs: one pass at a time, every `intervalMs`; a poke
 * during a pass asks for another right after it (so a change the API made mid-pass is
 * not left for the next interval); a failed pass goes to `onError` and the loop goes on.
 */
export class ConvergeLoop {
  readonly #passOnce: () => Promise<void>;
  readonly #intervalMs: number;
  readonly #onError: ((err: unknown) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(pass: () => Promise<void>, intervalMs: number, onError?: (err: unknown) => void) {
    this.#passOnce = pass;
    this.#intervalMs = intervalMs;
    this.#onError = onError;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The first pass now, then one every interval. */
  start(): void {
    this.#schedule(0);
  }

  /** A pass soon: now, or right after the one running. */
  poke(): void {
    if (this.#pass) this.#again = true;
    else this.#schedule(0);
  }

  /** One pass now (or the one running, and another after it). */
  converge(): Promise<void> {
    if (this.#pass) {
      this.#again = true;
      return this.#pass;
    }
    this.#pass = this.#passOnce()
      .catch((err: unknown) => this.#onError?.(err))
      .finally(() => {
        this.#pass = undefined;
      });
    return this.#pass;
  }

  /** No more passes; resolves once the one running is over. */
  async close(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#pass;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(async () => {
      await this.converge();
      const again = this.#again;
      this.#again = false;
      this.#schedule(again ? 0 : this.#intervalMs);
    }, ms);
    this.#timer.unref();
  }
}
