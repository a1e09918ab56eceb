/**
 * App logs: staging output and every instance's stdout and stderr, timestamped, kept
 * in a bounded ring per app (the newest LINES_PER_APP lines), and streamed to whoever
 * listens (`slipway cf logs`, the dashboard, the log-cache API the cf CLI reads).
 */

export type LogSource = 'STG' | 'API' | 'RTR' | `APP/PROC/${string}` | 'CELL';

export interface LogLine {
  /** Nanoseconds since the epoch (log-cache's unit), strictly increasing per app. */
  timestamp: bigint;
  appGuid: string;
  source: LogSource;
  /** The instance index ("0") for APP lines, "" otherwise. */
  instance: string;
  stream: 'OUT' | 'ERR';
  text: string;
}

const LINES_PER_APP = 2000;
const MAX_LINE = 64 * 1024;

export class AppLogs {
  readonly #rings = new Map<string, LogLine[]>();
  readonly #listeners = new Map<string, Set<(line: LogLine) => void>>();
  #last = 0n;
  /** Told of every line written here (a relay to the other nodes of a shared database). */
  onWrite: ((line: LogLine) => void) | undefined;

  /** Adds text (one or more lines) to an app's log. */
  write(appGuid: string, source: LogSource, instance: string, stream: 'OUT' | 'ERR', text: string): void {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/\r$/, '');
      if (line === '') continue;
      const entry: LogLine = {
        timestamp: this.#now(),
        appGuid,
        source,
        instance,
        stream,
        text: line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line,
      };
      this.#push(entry);
      this.onWrite?.(entry);
    }
  }

  /** A line written on another node, in its place by time (it may arrive after newer local ones). */
  ingest(line: LogLine): void {
    this.#push(line);
  }

  /** The retained lines of an app, oldest first, from `since` (exclusive) on, at most `limit` of the newest. */
  recent(appGuid: string, options: { since?: bigint; until?: bigint; limit?: number } = {}): LogLine[] {
    const ring = this.#rings.get(appGuid) ?? [];
    const filtered = ring.filter(
      (l) =>
        (options.since === undefined || l.timestamp > options.since) &&
        (options.until === undefined || l.timestamp <= options.until),
    );
    return options.limit === undefined ? filtered : filtered.slice(-options.limit);
  }

  /** Calls `listener` with every new line of the app; returns the unsubscribe. */
  follow(appGuid: string, listener: (line: LogLine) => void): () => void {
    let set = this.#listeners.get(appGuid);
    if (!set) this.#listeners.set(appGuid, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Forgets an app (deleted). */
  drop(appGuid: string): void {
    this.#rings.delete(appGuid);
    this.#listeners.delete(appGuid);
  }

  #push(line: LogLine): void {
    let ring = this.#rings.get(line.appGuid);
    if (!ring) this.#rings.set(line.appGuid, (ring = []));
    let at = ring.length;
    while (at > 0 && ring[at - 1]!.timestamp > line.timestamp) at--;
    ring.splice(at, 0, line);
    if (ring.length > LINES_PER_APP) ring.splice(0, ring.length - LINES_PER_APP);
    for (const l of this.#listeners.get(line.appGuid) ?? []) {
      try {
        l(line);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  #now(): bigint {
    // Microseconds, not milliseconds: lines of two nodes (a shared database) rarely share a timestamp.
    const t = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
    this.#last = t > this.#last ? t : this.#last + 1n;
    return this.#last;
  }
}
