import type { Command } from 'commander';
import type { LocalStore } from '../store/local-store.js';
import { processScratchDir } from '../store/scratch.js';
import { silentProgress, type Progress } from '../progress.js';

export interface GlobalOptions {
  home?: string;
  quiet?: boolean;
  json?: boolean;
}

/**
 * What every command gets: the store (opened on first use, closed at exit), the
 * output mode, and a Progress that draws bars only on a terminal and only when
 * neither --quiet nor --json is given.
 */
export class CliContext {
  readonly options: GlobalOptions;
  #store: Promise<LocalStore> | undefined;
  /** Where the store's metadata lives when not in the home (`serve --database`). */
  #storage: { database?: string; blobs?: string } = {};

  constructor(command: Command) {
    this.options = command.optsWithGlobals<GlobalOptions>();
  }

  store = (): Promise<LocalStore> => {
    // Loaded on first use: commands that never open the store (a cached `run`) skip its cost.
    this.#store ??= import('../store/local-store.js').then(async ({ LocalStore }) => {
      const store = await LocalStore.open(this.options.home, this.#storage);
      // Scratch (os.tmpdir(): exports, droplets, buildpack downloads) in the store, on the blobs'
      // filesystem, where gc finds what a killed command left; unless TMPDIR names a place.
      process.env['TMPDIR'] ||= processScratchDir(store.home);
      return store;
    });
    return this.#store;
  };

  /** Names the scale-out back-ends before the store is first opened (else $SLIPWAY_DATABASE, or SQLite in the home). */
  useStorage(storage: { database?: string; blobs?: string }): void {
    if (this.#store) throw new Error('useStorage after the store was opened');
    this.#storage = storage;
  }

  progress(): Progress {
    if (this.options.quiet || this.options.json) return silentProgress;
    return process.stderr.isTTY ? deferredTerminalProgress() : lineProgress();
  }

  /** Prints the command's result: JSON with --json, else the human text. */
  print(json: unknown, human: () => string): void {
    if (this.options.json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    else if (!this.options.quiet) {
      const text = human();
      if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  async close(): Promise<void> {
    if (this.#store) await (await this.#store).close();
  }
}

/**
 * Bars on a terminal, their module (cli-progress, readline) imported on first use rather than
 * by every command at start (issue 23); calls made before it is in are replayed in order.
 */
function deferredTerminalProgress(): Progress {
  let bars: Progress | undefined;
  const queue: ((p: Progress) => void)[] = [];
  void import('./progress-bars.js')
    .then(({ terminalProgress }) => terminalProgress(), lineProgress)
    .then((p) => {
      bars = p;
      for (const call of queue.splice(0)) call(p);
    });
  const call = (f: (p: Progress) => void) => (bars ? f(bars) : void queue.push(f));
  return {
    start: (id, label, total) => call((p) => p.start(id, label, total)),
    advance: (id, bytes) => call((p) => p.advance(id, bytes)),
    done: (id, note) => call((p) => p.done(id, note)),
    log: (message) => call((p) => p.log(message)),
  };
}

/** Progress for logs and pipes: one line per finished task, nothing redrawn. */
function lineProgress(): Progress {
  return {
    start() {},
    advance() {},
    done(id, note) {
      process.stderr.write(`${id}: ${note ?? 'done'}\n`);
    },
    log(message) {
      process.stderr.write(`${message}\n`);
    },
  };
}
