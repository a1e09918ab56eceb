import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The worker exits once it has had nothing to check for this long. */
const IDLE_MS = 30_000;

// CommonJS run by the worker (eval: a file would need its own path under tsx and under dist).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcrypt);
parentPort.on('message', ({ id, password, hash }) => {
  let ok = false;
  try { ok = bcrypt.compareSync(password, hash); } catch {}
  parentPort.postMessage({ id, ok });
});
`;

/**
 * bcrypt checks on a worker thread. bcryptjs is JavaScript: a check costs ~0.1 s of
 * CPU, which on the event loop stalls every other request. Only users whose hash
 * predates argon2id (rehashed at their next good login) need it, so the thread is
 * started on first use and ends when idle.
 */
export class BcryptWorker {
  #worker: Worker | undefined;
  #nextId = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #pending = new Map<number, { resolve: (ok: boolean) => void; reject: (err: Error) => void }>();

  /** True when `password` matches the bcrypt `hash`; false for a malformed hash. */
  compare(password: string, hash: string): Promise<boolean> {
    const worker = this.#start();
    clearTimeout(this.#idleTimer);
    const id = this.#nextId++;
    // Held while a check is pending (someone awaits it), let go when idle.
    worker.ref();
    return new Promise<boolean>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, password, hash });
    });
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const bcrypt = createRequire(import.meta.url).resolve('bcryptjs');
    // No execArgv: the eval'd CommonJS needs none of the parent's flags or loaders (tsx).
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcrypt }, execArgv: [] });
    worker.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
      this.#pending.get(id)?.resolve(ok);
      this.#pending.delete(id);
      if (this.#pending.size === 0) this.#idle(worker);
    });
    // Only the current worker's end fails what is pending: a worker ended for idling has nothing pending.
    const fail = (err: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      for (const { reject } of this.#pending.values()) reject(err);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the bcrypt worker exited (${code})`)));
    this.#worker = worker;
    return worker;
  }

  /** A thread waiting for work must not keep the process alive; it ends after IDLE_MS. */
  #idle(worker: Worker): void {
    worker.unref();
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      const current = this.#worker;
      this.#worker = undefined;
      void current?.terminate();
    }, IDLE_MS);
    this.#idleTimer.unref();
  }
}
