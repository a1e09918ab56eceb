import { Readable } from 'node:stream';

/**
 * A request body that streams to one backend after another: each attempt gets a fresh
 * `feed()`, which replays what earlier attempts already took and then goes on with the
 * client's stream. Only the first `limit` bytes are kept; once the body is longer than
 * that, it can no longer be replayed and a failed attempt is final. The body is never
 * read ahead of the attempt that consumes it, so a large upload still streams with the
 * backend's pace.
 */
export class ReplayableBody {
  readonly #src: Readable;
  readonly #limit: number;
  #kept: Buffer[] = [];
  #keptBytes = 0;
  #overflow = false;
  #ended = false;
  #error: Error | undefined;
  #current: Readable | undefined;
  #feeds = 0;
  /** The current feed has passed on the end of the body (the request was sent whole). */
  #sentWhole = false;

  constructor(src: Readable, limit: number) {
    this.#src = src;
    this.#limit = limit;
    src.on('data', (chunk: Buffer) => this.#onData(chunk));
    src.pause();
    src.once('end', () => {
      this.#ended = true;
      this.#endCurrent();
    });
    src.once('error', (err) => {
      this.#error = err;
      this.#current?.destroy(err);
    });
  }

  /** Another attempt may send the body again. */
  get replayable(): boolean {
    return !this.#overflow && this.#error === undefined;
  }

  /** The last feed handed the whole body on. */
  get sentWhole(): boolean {
    return this.#sentWhole;
  }

  /** A stream of the whole body for one attempt; the previous feed is cut off. */
  feed(): Readable {
    if (this.#feeds > 0 && !this.replayable) throw new Error('the request body cannot be sent again');
    this.#feeds++;
    this.#current?.destroy();
    this.#sentWhole = false;
    let replayed = false;
    const feed = new Readable({
      read: () => {
        if (!replayed) {
          replayed = true;
          for (const chunk of this.#kept) feed.push(chunk);
          if (this.#ended) {
            this.#sentWhole = true;
            feed.push(null);
            return;
          }
        }
        this.#src.resume();
      },
      destroy: (err, cb) => {
        if (this.#current === feed) {
          this.#current = undefined;
          this.#src.pause();
        }
        cb(err);
      },
    });
    this.#current = feed;
    return feed;
  }

  #onData(chunk: Buffer): void {
    if (!this.#overflow) {
      if (this.#keptBytes + chunk.length <= this.#limit) {
        this.#kept.push(chunk);
        this.#keptBytes += chunk.length;
      } else {
        this.#overflow = true;
        this.#kept = [];
        this.#keptBytes = 0;
      }
    }
    const feed = this.#current;
    if (!feed) {
      // No attempt is reading (between two); whatever came is kept (if it fits) for the next.
      this.#src.pause();
      return;
    }
    if (!feed.push(chunk)) this.#src.pause();
  }

  #endCurrent(): void {
    const feed = this.#current;
    if (!feed) return;
    this.#sentWhole = true;
    feed.push(null);
  }
}
