import { Transform } from 'node:stream';

/**
 * How long operations report what they are doing. Lower layers call a Progress;
 * the CLI renders it (bars on a terminal, nothing with --quiet, JSON events never
 * mixed with the final --json document). A leaf module, importable from anywhere.
 */
export interface Progress {
  /** A task with a known total in bytes (or undefined when unknown) begins. */
  start(id: string, label: string, total?: number): void;
  /** `bytes` more bytes of task `id` are done. */
  advance(id: string, bytes: number): void;
  /** Task `id` ended; `note` says how (e.g. "exists", "done"). */
  done(id: string, note?: string): void;
  /** A one-line status message. */
  log(message: string): void;
}

export const silentProgress: Progress = {
  start() {},
  advance() {},
  done() {},
  log() {},
};

/** A pass-through stream that reports the bytes of task `id` as they flow (never pausing or starting the flow itself). */
export function progressStream(progress: Progress, id: string): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      progress.advance(id, chunk.length);
      done(null, chunk);
    },
  });
}
