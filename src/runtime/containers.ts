import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SlipwayError } from '../errors.js';
import type { TransportRef } from '../oci/transport.js';
import { silentProgress, type Progress } from '../progress.js';
import type { LocalStore } from '../store/local-store.js';
import { SqliteMetadataStore } from '../store/sqlite-metadata.js';
import { isOwnerAlive, ownerString } from '../store/owner.js';
import { INIT_PATH, writeBundle } from './container-bundle.js';
import { checkContainerName, generateContainerName } from './container-names.js';
import type { ImagePlan } from './image-plan.js';
import { LayerCache, type LayerGcReport } from './layer-cache.js';
import { unmountOverlay } from './overlay-mount.js';
import { RuntimePaths } from './paths.js';
import type { RunOptions } from './run-options.js';
import type { PhaseTimes } from './phase-times.js';
import { Runc } from './runc.js';
import { signalInit } from './signals.js';
import { holdTermination, throwIfTerminating } from './termination.js';
import { RuntimeState, type ContainerRecord } from './state.js';
import { superviseContainer } from './supervise.js';

/** Where `run` gets an image from: a transport reference and the store to open when it names the local store. */
export interface ImageInput {
  ref: TransportRef;
  /** The reference as the user wrote it (recorded, shown by ps). */
  label: string;
  store: () => Promise<LocalStore>;
}

export interface RunResult {
  name: string;
  /** Set for foreground runs: the container's exit code (128+N when signal N ended it). */
  exitCode?: number | null;
  /** Layers this run unpacked into the cache (0 when all were cached). */
  unpacked: number;
}

/** A container as `ps` shows it. */
export type ContainerInfo = Omit<ContainerRecord, 'owner'>;

export interface RunIo {
  progress?: Progress;
  /** Foreground stdio (default: this process's). */
  stdio?:
    | 'inherit'
    | [
        'inherit' | 'ignore' | 'pipe' | number,
        'inherit' | 'ignore' | 'pipe' | number,
        'inherit' | 'ignore' | 'pipe' | number,
      ];
  /** Foreground runs: called once the container's init runs, with its host pid and the runc child (its piped stdio is the container's). */
  onStart?: (initPid: number, child: ChildProcess) => void;
  /** Pass this process's signals on to a foreground container (default); false when the caller ends it itself (a build). */
  forwardSignals?: boolean;
  /** Marks each phase of the run as it ends (`slipway run --timings`). */
  times?: PhaseTimes;
}

/** The names build sessions give their containers (src/sandbox/build-session.ts): never kept. */
const BUILD_PREFIX = 'slipway-build-';
/** A file in a container's directory: remove it once it exited. */
const AUTO_REMOVE_MARK = 'auto-remove';

/** How long `run -d` waits for the container to be running. */
const DETACH_START_TIMEOUT_MS = 60_000;
const POLL_MS = 20;

/**
 * Runs images as containers on this host: the facade over the layer cache, the
 * overlay root filesystems, the runtime spec and runc. One per process; `close()` it.
 *
 * @example
 * const runtime = ContainerRuntime.open();
 * const { exitCode } = await runtime.run({ ref: parseTransport('debian:bookworm'), label: 'debian:bookworm', store }, { args: ['cat', '/etc/debian_version'] });
 * runtime.close();
 */
export class ContainerRuntime {
  readonly paths: RuntimePaths;
  readonly state: RuntimeState;
  readonly cache: LayerCache;
  readonly runc: Runc;

  constructor(paths: RuntimePaths, state: RuntimeState, runc: Runc) {
    this.paths = paths;
    this.state = state;
    this.runc = runc;
    this.cache = new LayerCache(paths, state);
  }

  /** Opens the runtime of the store in `storeHome` (default $SLIPWAY_HOME, else ~/.slipway). */
  static open(storeHome?: string): ContainerRuntime {
    const paths = new RuntimePaths(storeHome);
    return new ContainerRuntime(paths, new RuntimeState(paths.stateDb), new Runc(paths.runcRoot));
  }

  close(): void {
    this.state.close();
  }

  /**
   * Runs an image: the layers are unpacked into the cache (once per host), the
   * container gets an overlay root filesystem and config.json, and runc starts it.
   * In the foreground, resolves when the container exited, with its exit code; with
   * `detach`, once it runs (its output goes to its log).
   */
  async run(image: ImageInput, options: RunOptions = {}, io: RunIo = {}): Promise<RunResult> {
    this.runc.checkUsable();
    const name = checkContainerName(options.name ?? generateContainerName(image.label));
    const dir = this.paths.container(name);
    const progress = io.progress ?? silentProgress;
    // Until runc runs it, a signal ends the start (the container is discarded); then supervise forwards them.
    const release = holdTermination({ signals: !options.detach });
    const times = io.times;
    times?.mark('cli start');
    let prepared: { plan: ImagePlan; unpacked: number };
    try {
      prepared = await this.#prepareImage(image, name, options, progress);
      times?.mark(prepared.unpacked > 0 ? 'image (layers unpacked)' : 'image (layers cached)');
      try {
        const spec = await writeBundle(
          dir,
          prepared.plan,
          prepared.plan.diffIds.map((d) => this.cache.dir(d)),
          name,
          options,
        );
        this.state.setCommand(
          name,
          spec.process.args[0] === INIT_PATH ? spec.process.args.slice(2) : spec.process.args,
        );
        // Says, after a crash of this process, that nobody meant to keep the container (see sweep).
        if (options.remove) writeFileSync(join(dir, AUTO_REMOVE_MARK), '');
        throwIfTerminating();
        times?.mark('overlay mount and spec');
      } catch (err) {
        await this.#discard(name);
        throw err;
      }
    } finally {
      release();
    }
    const { unpacked } = prepared;
    if (options.detach) {
      await this.#startDetached(name, dir);
      return { name, unpacked };
    }
    const exitCode = await superviseContainer(this.state, this.runc, name, dir, {
      stdio: io.stdio ?? 'inherit',
      remove: options.remove ?? false,
      watchdog: true,
      ...(io.onStart ? { onStart: io.onStart } : {}),
      ...(io.forwardSignals === false ? { forwardSignals: false } : {}),
      ...(times ? { times } : {}),
    });
    return { name, exitCode, unpacked };
  }

  /** Every container, oldest first, with the state of those whose supervisor died brought up to date. */
  async list(): Promise<ContainerInfo[]> {
    const out: ContainerInfo[] = [];
    for (const record of this.state.containers()) {
      // A build or --rm container whose slipway was killed was never to be kept: it goes, not "exited (?)".
      if (!record.detached && this.#autoRemove(record) && !isOwnerAlive(record.owner ?? undefined)) {
        await this.#discard(record.name);
        continue;
      }
      out.push(info(await this.#reconcile(record)));
    }
    return out;
  }

  /** One container; NOT_FOUND when there is none by that name. */
  async get(name: string): Promise<ContainerInfo> {
    return info(await this.#reconcile(this.#record(name)));
  }

  /**
   * Stops a running container: `signal` (SIGTERM), then SIGKILL after `timeoutMs`
   * (10 s). An init that does not handle the signal is killed at once (see signalInit).
   * Resolves once it exited and its root filesystem is unmounted.
   */
  async stop(name: string, options: { timeoutMs?: number; signal?: NodeJS.Signals } = {}): Promise<ContainerInfo> {
    let record = await this.#reconcile(this.#record(name));
    if (record.status !== 'running' || record.initPid === null) return info(record);
    signalInit(record.initPid, options.signal ?? 'SIGTERM');
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    let killed = false;
    for (;;) {
      record = await this.#reconcile(this.#record(name));
      if (record.status === 'exited') return info(record);
      if (!killed && Date.now() >= deadline && record.initPid !== null) {
        signalInit(record.initPid, 'SIGKILL');
        killed = true;
      }
      await sleep(POLL_MS);
    }
  }

  /** The path of a container's log (what a detached container wrote to stdout and stderr). */
  logPath(name: string): string {
    this.#record(name);
    return join(this.paths.container(name), 'log');
  }

  /**
   * Removes a container: unmounts its root filesystem, deletes its directory (upper
   * layer included) and its record, which drops its references to cached layers.
   * A running container is refused unless `force` (then it is killed first).
   */
  async remove(name: string, options: { force?: boolean } = {}): Promise<void> {
    const record = await this.#reconcile(this.#record(name));
    if (record.status === 'running') {
      if (!options.force) {
        throw new SlipwayError(
          'CONFLICT',
          `container ${name} is running; stop it first (slipway stop ${name}) or remove it with --force`,
          { detail: { name } },
        );
      }
      await this.stop(name, { signal: 'SIGKILL', timeoutMs: 0 });
    }
    await this.#discard(name);
  }

  /**
   * Ends and removes what a `slipway` process killed without a chance to clean up (SIGKILL,
   * a crash) left: a foreground or build container whose process is gone dies now, as it
   * would have with its process, and goes entirely when it was to be removed at exit
   * (`run --rm`, builds); runc containers and container directories no record names are
   * deleted and unmounted. Detached containers whose supervisor died are left running.
   */
  async sweep(): Promise<{ containersRemoved: number; containersEnded: number }> {
    const report = { containersRemoved: 0, containersEnded: 0 };
    const known = new Set<string>();
    for (const record of this.state.containers()) {
      known.add(record.id);
      if (isOwnerAlive(record.owner ?? undefined)) continue;
      if (record.detached) {
        await this.#reconcile(record);
        continue;
      }
      const dir = this.paths.container(record.name);
      const wasRunning = (await this.runc.state(record.id))?.status === 'running';
      if (this.#autoRemove(record)) {
        await this.#discard(record.name);
        report.containersRemoved++;
        continue;
      }
      if (record.status === 'exited' && !wasRunning) continue;
      await this.runc.deleteForce(record.id);
      await unmountOverlay(dir);
      this.state.markExited(record.name, null, 'its slipway process ended before it (it was killed)');
      report.containersEnded++;
    }
    for (const id of await this.runc.list()) {
      if (known.has(id)) continue;
      await this.runc.deleteForce(id);
      report.containersRemoved++;
    }
    if (existsSync(this.paths.containers)) {
      for (const name of readdirSync(this.paths.containers)) {
        if (this.state.container(name)) continue;
        const dir = this.paths.container(name);
        await unmountOverlay(dir);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    return report;
  }

  /** Removes the cached layers no container uses (and leftovers of interrupted unpacks). */
  gc(options: { keep?: ReadonlySet<string> } = {}): LayerGcReport {
    return this.cache.gc(options);
  }

  // ---- internals

  /**
   * Records the container (its layer references first, so a concurrent gc keeps them)
   * and makes sure its layers are cached. A local image whose plan is known and whose
   * layers are all cached needs no blob read at all.
   */
  async #prepareImage(
    image: ImageInput,
    name: string,
    options: RunOptions,
    progress: Progress,
  ): Promise<{ plan: ImagePlan; unpacked: number }> {
    const register = (plan: ImagePlan) =>
      this.state.write(() =>
        this.state.addContainer(
          {
            name,
            id: randomBytes(16).toString('hex'),
            image: image.label,
            digest: plan.digest,
            detached: options.detach ?? false,
            command: options.args ?? [],
            owner: ownerString(),
          },
          plan.diffIds,
        ),
      );
    let registered = false;
    let sourceKey: string | undefined;
    const localDigest = image.ref.transport === 'local' ? await this.#resolveLocal(image.ref) : undefined;
    if (localDigest !== undefined) {
      sourceKey = `local:${localDigest}`;
      const known = this.state.imagePlan(sourceKey);
      if (known !== undefined) {
        const plan = JSON.parse(known) as ImagePlan;
        register(plan);
        registered = true;
        if (plan.diffIds.every((d) => this.cache.has(d))) {
          this.state.touchLayers(plan.diffIds);
          return { plan, unpacked: 0 };
        }
      }
    }
    try {
      // Loaded on demand: a cached start never needs the transports.
      const [{ withSource }, { planImage }] = await Promise.all([
        import('../transport/open.js'),
        import('./image-plan.js'),
      ]);
      return await withSource(image.ref, image.store, async (src) => {
        const { plan, layers } = await planImage(src.artifact);
        if (!registered) register(plan);
        const unpacked = await this.cache.ensure(layers, progress);
        if (sourceKey !== undefined) this.state.putImagePlan(sourceKey, JSON.stringify(plan));
        return { plan, unpacked };
      });
    } catch (err) {
      if (this.state.container(name)?.owner === ownerString()) await this.#discard(name);
      throw err;
    }
  }

  /**
   * The manifest digest a local-store reference names, read from the store's metadata
   * alone (the whole LocalStore is not needed for a cached start); undefined when it
   * names nothing, and the full path then reports that.
   */
  async #resolveLocal(ref: Extract<TransportRef, { transport: 'local' }>): Promise<string | undefined> {
    const file = join(dirname(this.paths.root), 'metadata.sqlite');
    if (!existsSync(file)) return undefined;
    const meta = await SqliteMetadataStore.open(file);
    try {
      const found = await meta.findManifest(
        ref.name,
        ref.digest !== undefined ? { digest: ref.digest } : { tag: ref.tag ?? 'latest' },
      );
      return found?.digest;
    } finally {
      await meta.close();
    }
  }

  async #startDetached(name: string, dir: string): Promise<void> {
    const log = openSync(join(dir, 'log'), 'a', 0o600);
    let supervisor: ChildProcess;
    try {
      supervisor = spawn(process.execPath, [...supervisorEntry(), dirname(this.paths.root), name], {
        detached: true,
        stdio: ['ignore', log, log],
        env: process.env,
      });
    } finally {
      closeSync(log);
    }
    let exited: number | null | undefined;
    supervisor.once('exit', (code) => (exited = code));
    supervisor.unref();
    const deadline = Date.now() + DETACH_START_TIMEOUT_MS;
    for (;;) {
      const record = this.#record(name);
      if (record.status === 'running') return;
      if (record.status === 'exited') {
        throw new SlipwayError(
          'IO_ERROR',
          `container ${name} exited at once (code ${record.exitCode}); see slipway logs ${name}`,
          { detail: { name, exitCode: record.exitCode } },
        );
      }
      if (exited !== undefined)
        throw new SlipwayError(
          'IO_ERROR',
          `the supervisor of container ${name} failed (exit ${exited}); see slipway logs ${name}`,
          { detail: { name } },
        );
      if (Date.now() > deadline)
        throw new SlipwayError(
          'IO_ERROR',
          `container ${name} did not start within ${DETACH_START_TIMEOUT_MS / 1000} s`,
          { detail: { name } },
        );
      await sleep(POLL_MS);
    }
  }

  /**
   * Brings a record up to date when the process that waited for the container is
   * gone (killed, or the host rebooted): a container still running stays so (stop or
   * rm can end it); one that is not is cleaned up and marked exited.
   */
  async #reconcile(record: ContainerRecord): Promise<ContainerRecord> {
    if (record.status === 'exited' || isOwnerAlive(record.owner ?? undefined)) return record;
    const runcState = await this.runc.state(record.id);
    if (runcState?.status === 'running') return record;
    await this.runc.deleteForce(record.id);
    await unmountOverlay(this.paths.container(record.name));
    this.state.markExited(
      record.name,
      null,
      record.status === 'created'
        ? 'it never started (the process starting it ended first)'
        : 'its supervisor ended before it',
    );
    return this.#record(record.name);
  }

  /** True for a container nobody meant to keep once it exited: a build's, or one run with --rm. */
  #autoRemove(record: ContainerRecord): boolean {
    return (
      record.name.startsWith(BUILD_PREFIX) || existsSync(join(this.paths.container(record.name), AUTO_REMOVE_MARK))
    );
  }

  /** Removes whatever a container left: runc state, mount, directory, record. */
  async #discard(name: string): Promise<void> {
    const record = this.state.container(name);
    if (record) await this.runc.deleteForce(record.id).catch(() => undefined);
    const dir = this.paths.container(name);
    await unmountOverlay(dir);
    rmSync(dir, { recursive: true, force: true });
    this.state.removeContainer(name);
  }

  #record(name: string): ContainerRecord {
    const record = this.state.container(name);
    if (!record)
      throw new SlipwayError('NOT_FOUND', `there is no container named ${name} (see slipway ps)`, { detail: { name } });
    return record;
  }
}

/** The node arguments that run the supervisor: the compiled file, or the TypeScript source through tsx. */
function supervisorEntry(): string[] {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) return ['--import', import.meta.resolve('tsx'), join(self, '..', 'supervisor-main.ts')];
  return [join(self, '..', 'supervisor-main.js')];
}

function info(record: ContainerRecord): ContainerInfo {
  const { owner: _owner, ...rest } = record;
  return rest;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
