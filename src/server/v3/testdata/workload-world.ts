import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AppLogs } from '../../../platform/logs.js';
import { type App, emptyMetadata, newGuid, type User } from '../../../platform/model.js';
import { LocalStore } from '../../../store/local-store.js';
import { SqliteResourcePool } from '../../../platform/staging/resource-pool.js';
import { PackageStore } from '../../../platform/staging/package-store.js';
import type { InstanceStat, InstanceStatsSource, WorkloadSignals } from '../../../platform/workload-services.js';
import type { Droplet, Process } from '../../../platform/workload.js';
import { createV3App, type V3App } from '../app.js';
import { testOnlyAuthenticate, testToken } from './test-auth.js';
import { type Answer, BASE, type Principal, STACKS, World } from './world.js';

const run = promisify(execFile);

export const DOMAIN = 'apps.example.com';

/**
 * TEST ONLY: a stand-in for the runtime's instance stats (the reconciler's runner is
 * someone else's and needs containers): answers what a test put for a process.
 */
export class FakeRuntimeStats implements InstanceStatsSource {
  readonly byProcess = new Map<string, InstanceStat[]>();
  async stats(process: Process): Promise<InstanceStat[]> {
    return this.byProcess.get(process.guid) ?? [];
  }
}

/** TEST ONLY: counts the nudges the API gives the build workers and the reconciler. */
export class CountingSignals implements WorkloadSignals {
  builds = 0;
  desired = 0;
  buildQueued(): void {
    this.builds++;
  }
  desiredChanged(): void {
    this.desired++;
  }
}

/**
 * The v3 API with its workload half, on the World's real SQLite store
 * (`store.workloads`), the real package store in a temp dir and the real app logs;
 * only instance stats are a stand-in (FakeRuntimeStats).
 */
export class WorkloadWorld {
  readonly w: World;
  readonly app: V3App;
  readonly packages: PackageStore;
  readonly logs = new AppLogs();
  readonly stats = new FakeRuntimeStats();
  readonly signals = new CountingSignals();

  readonly #images: LocalStore;
  readonly #pool: SqliteResourcePool;

  private constructor(w: World, images: LocalStore) {
    this.w = w;
    this.#images = images;
    this.#pool = new SqliteResourcePool(join(w.dir, 'resource-pool.sqlite'));
    this.packages = new PackageStore(images, this.#pool);
    this.app = createV3App({
      store: w.store,
      authenticate: testOnlyAuthenticate(w.store),
      stacks: { list: async () => STACKS },
      images: w.images,
      publicUrl: BASE,
      clock: () => w.clock(),
      workloads: w.store.workloads,
      services: {
        packages: this.packages,
        stats: this.stats,
        logs: this.logs,
        signals: this.signals,
        defaultDomain: DOMAIN,
      },
    });
  }

  static async create(): Promise<WorkloadWorld> {
    const w = await World.create();
    return new WorkloadWorld(w, await LocalStore.open(join(w.dir, 'home')));
  }

  async close(): Promise<void> {
    await this.app.jobs.idle();
    await this.#pool.close();
    await this.#images.close();
    await this.w.close();
  }

  get store() {
    return this.w.store;
  }

  get workloads() {
    return this.w.store.workloads;
  }

  /** A request as `who` with a JSON body (or a string as is) and more headers. */
  async call(
    method: string,
    path: string,
    who?: Principal | User,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const h: Record<string, string> = { 'content-type': 'application/json', ...headers };
    const user = typeof who === 'string' ? (who === 'anonymous' ? undefined : this.w.users[who]) : who;
    if (user) h.authorization = testToken(user);
    const init: RequestInit = { method, headers: h };
    if (body !== undefined)
      init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    const res = await this.app.request(path.startsWith('http') ? path : BASE + path, init);
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
  }

  get(path: string, who?: Principal | User): Promise<Answer> {
    return this.call('GET', path, who);
  }

  yaml(path: string, who: Principal, text: string): Promise<Answer> {
    return this.call('POST', path, who, text, { 'content-type': 'application/x-yaml' });
  }

  /** Polls a job (its Location) until it is no longer PROCESSING. */
  async job(location: string, who: Principal = 'spaceDeveloper'): Promise<Answer> {
    await this.app.jobs.idle();
    return this.get(location, who);
  }

  /** A droplet STAGED from a build, recorded as a build worker records one. */
  async stage(
    app: App,
    buildGuid: string,
    processTypes: Record<string, string> = { web: 'node server.js' },
    digest = `sha256:${'ab'.repeat(32)}`,
  ): Promise<Droplet> {
    const build = await this.workloads.getBuild(buildGuid);
    const at = this.w.clock().toISOString();
    const droplet = await this.workloads.createDroplet({
      guid: newGuid(),
      createdAt: at,
      updatedAt: at,
      metadata: emptyMetadata(),
      appGuid: app.guid,
      buildGuid,
      ...(build ? { packageGuid: build.packageGuid } : {}),
      state: 'STAGED',
      digest,
      processTypes,
      buildpacks: [{ name: 'nodejs_buildpack', buildpackName: 'nodejs', detectOutput: 'nodejs', version: '1.8.0' }],
      stack: 'bookworm',
      stackVersion: '12.7',
      executionMetadata: '',
    });
    await this.workloads.updateBuild(buildGuid, { state: 'STAGED', dropletGuid: droplet.guid });
    this.logs.write(app.guid, 'STG', '0', 'OUT', 'Staging complete');
    return droplet;
  }

  /** A multipart/form-data body as the cf CLI sends an upload: `resources` (JSON), then the `bits` zip when given. */
  multipart(resources: unknown[], zip?: Buffer): { body: Uint8Array; contentType: string } {
    const boundary = `----slipway${newGuid()}`;
    const parts: Buffer[] = [
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="resources"\r\n\r\n${JSON.stringify(resources)}\r\n`,
      ),
    ];
    if (zip)
      parts.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="bits"; filename="package.zip"\r\nContent-Type: application/octet-stream\r\n\r\n`,
        ),
        zip,
        Buffer.from('\r\n'),
      );
    parts.push(Buffer.from(`--${boundary}--\r\n`));
    return { body: new Uint8Array(Buffer.concat(parts)), contentType: `multipart/form-data; boundary=${boundary}` };
  }

  upload(pkgGuid: string, who: Principal, resources: unknown[], zip?: Buffer): Promise<Answer> {
    const { body, contentType } = this.multipart(resources, zip);
    return this.call('POST', `/v3/packages/${pkgGuid}/upload`, who, body, { 'content-type': contentType });
  }
}

/** A real zip of `files` (path -> content), made by Debian's zip in a temp dir, with its directory entries. */
export async function makeZip(files: Record<string, string>): Promise<Buffer> {
  const dir = await mkdtemp(join(process.env.TMPDIR ?? '/tmp', 'slipway-zip-'));
  try {
    const src = join(dir, 'src');
    for (const [path, content] of Object.entries(files)) {
      const file = join(src, path);
      await mkdir(join(file, '..'), { recursive: true });
      await writeFile(file, content);
    }
    await run('zip', ['-q', '-r', '-X', join(dir, 'out.zip'), '.'], { cwd: src });
    return await readFile(join(dir, 'out.zip'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
