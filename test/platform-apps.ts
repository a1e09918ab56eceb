import { execFile } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { ContainerRuntime } from '../src/runtime/containers.js';
import { SqlitePlatformStore } from '../src/platform/store/sqlite-platform-store.js';
import { startPlatformServer } from '../src/server/index.js';
import { LocalStore } from '../src/store/local-store.js';
import { tempDir } from './helpers.js';
import { PlatformClient } from './platform-world.js';

/**
 * Pushing apps through the v3 API the way the cf CLI does (resource matching, a zip of
 * only the unmatched files, a build, the droplet made current, a route, start or a
 * rolling deployment), for the tests that run apps on a real platform, and a load
 * generator for "no request fails" checks.
 */

const run = promisify(execFile);

export interface PushOptions {
  buildpacks?: string[];
  instances?: number;
  memoryMb?: number;
  command?: string;
  healthCheck?: { type: 'port' | 'http' | 'process'; endpoint?: string };
  /** Roll out with a deployment instead of restarting (the app must run already). */
  rolling?: { maxInFlight: number };
  /** Leave the app stopped (and the route unmapped). */
  noStart?: boolean;
  env?: Record<string, string>;
  /** Seconds to wait for the build and for the instances (default 300 and 60). */
  buildTimeout?: number;
  startTimeout?: number;
}

export interface Pushed {
  app: string;
  process: string;
  droplet: string;
  build: string;
  /** Files the platform already had and the client did not send; files and bytes it sent. */
  matched: number;
  uploadedFiles: string[];
  uploadedBytes: number;
  deployment?: string;
  url: string;
}

interface LocalFile {
  path: string;
  abs: string;
  sha1: string;
  size: number;
  mode: string;
}

async function walk(dir: string, root = dir): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const abs = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== '.git') out.push(...(await walk(abs, root)));
      continue;
    }
    if (!entry.isFile()) continue;
    const bytes = await readFile(abs);
    const st = await stat(abs);
    out.push({
      path: relative(root, abs),
      abs,
      sha1: createHash('sha1').update(bytes).digest('hex'),
      size: bytes.length,
      mode: (st.mode & 0o777).toString(8),
    });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

export class AppPusher {
  constructor(
    readonly client: PlatformClient,
    /** The router's URL and the shared domain of default routes. */
    readonly routerUrl: string,
    readonly domain: string,
  ) {}

  readonly #agent = new Agent({ keepAlive: true, maxSockets: 64 });

  /** GET through the router with the app's route as Host (fetch cannot set Host). */
  get(host: string, path = '/'): Promise<{ status: number; body: string }> {
    const url = new URL(path, this.routerUrl);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        { agent: this.#agent, headers: { host: `${host}.${this.domain}` }, timeout: 30_000 },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }

  async findApp(auth: string, spaceGuid: string, name: string): Promise<string | undefined> {
    const list = await this.client.ok(
      'GET',
      `/v3/apps?space_guids=${spaceGuid}&names=${encodeURIComponent(name)}`,
      auth,
    );
    return list.resources[0]?.guid;
  }

  async push(auth: string, spaceGuid: string, name: string, dir: string, o: PushOptions = {}): Promise<Pushed> {
    const c = this.client;
    const existing = await this.findApp(auth, spaceGuid, name);
    const app =
      existing ??
      (
        await c.ok('POST', '/v3/apps', auth, {
          name,
          ...(o.env ? { environment_variables: o.env } : {}),
          lifecycle: { type: 'buildpack', data: { buildpacks: o.buildpacks ?? [], stack: null } },
          relationships: { space: { data: { guid: spaceGuid } } },
        })
      ).guid;

    // Resource matching: the files the platform has by sha1 are not sent.
    const files = await walk(dir);
    const asResource = (f: LocalFile) => ({
      path: f.path,
      mode: f.mode,
      checksum: { value: f.sha1 },
      size_in_bytes: f.size,
    });
    const matches = await c.ok('POST', '/v3/resource_matches', auth, { resources: files.map(asResource) });
    const known = new Set((matches.resources as { path: string }[]).map((r) => r.path));
    const send = files.filter((f) => !known.has(f.path));
    const pkg = (
      await c.ok('POST', '/v3/packages', auth, { type: 'bits', relationships: { app: { data: { guid: app } } } })
    ).guid;
    const form = new FormData();
    form.append('resources', JSON.stringify(files.filter((f) => known.has(f.path)).map(asResource)));
    let zipBytes = 0;
    if (send.length > 0) {
      const work = await mkdtemp(join(tmpdir(), 'slipway-push-'));
      try {
        const zip = join(work, 'bits.zip');
        await run('zip', ['-q', '-X', zip, ...send.map((f) => f.path)], { cwd: dir });
        const bytes = await readFile(zip);
        zipBytes = bytes.length;
        form.append('bits', new Blob([bytes], { type: 'application/zip' }), 'bits.zip');
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    }
    const up = await fetch(`${c.base}/v3/packages/${pkg}/upload`, {
      method: 'POST',
      headers: { authorization: auth },
      body: form,
    });
    if (up.status !== 200) throw new Error(`upload: ${up.status} ${await up.text()}`);

    const build = (await c.ok('POST', '/v3/builds', auth, { package: { guid: pkg } })).guid;
    const staged = await this.waitFor(
      async () => {
        const b = await c.ok('GET', `/v3/builds/${build}`, auth);
        if (b.state === 'FAILED') throw new Error(`build of ${name} failed: ${b.error}`);
        return b.state === 'STAGED' ? b : undefined;
      },
      (o.buildTimeout ?? 300) * 1000,
      `the build of ${name}`,
    );
    const droplet = staged.droplet.guid as string;

    const web = (await c.ok('GET', `/v3/apps/${app}/processes/web`, auth)).guid as string;
    if (o.command !== undefined || o.healthCheck)
      await c.ok('PATCH', `/v3/processes/${web}`, auth, {
        ...(o.command !== undefined ? { command: o.command } : {}),
        ...(o.healthCheck
          ? {
              health_check: {
                type: o.healthCheck.type,
                data: o.healthCheck.endpoint ? { endpoint: o.healthCheck.endpoint } : {},
              },
            }
          : {}),
      });
    if (o.instances !== undefined || o.memoryMb !== undefined)
      await c.ok(
        'POST',
        `/v3/processes/${web}/actions/scale`,
        auth,
        {
          ...(o.instances !== undefined ? { instances: o.instances } : {}),
          ...(o.memoryMb !== undefined ? { memory_in_mb: o.memoryMb } : {}),
        },
        202,
      );
    if (!existing) await this.mapRoute(auth, spaceGuid, app, name);
    const url = `${this.routerUrl} (Host ${name}.${this.domain})`;
    const result: Pushed = {
      app,
      process: web,
      droplet,
      build,
      matched: known.size,
      uploadedFiles: send.map((f) => f.path),
      uploadedBytes: zipBytes,
      url,
    };
    if (o.noStart) {
      await c.ok('PATCH', `/v3/apps/${app}/relationships/current_droplet`, auth, { data: { guid: droplet } });
      return result;
    }
    if (o.rolling) {
      const d = await c.ok('POST', '/v3/deployments', auth, {
        droplet: { guid: droplet },
        strategy: 'rolling',
        options: { max_in_flight: o.rolling.maxInFlight },
        relationships: { app: { data: { guid: app } } },
      });
      result.deployment = d.guid;
      await this.waitDeployed(auth, d.guid, (o.startTimeout ?? 120) * 1000);
    } else {
      await c.ok('PATCH', `/v3/apps/${app}/relationships/current_droplet`, auth, { data: { guid: droplet } });
      await c.ok('POST', `/v3/apps/${app}/actions/restart`, auth, undefined, 200);
    }
    await this.waitRunning(auth, web, o.instances ?? 1, (o.startTimeout ?? 60) * 1000);
    return result;
  }

  async mapRoute(auth: string, spaceGuid: string, app: string, host: string): Promise<string> {
    const domain = (await this.client.ok('GET', `/v3/domains?names=${this.domain}`, auth)).resources[0].guid;
    const route = (
      await this.client.ok('POST', '/v3/routes', auth, {
        host,
        relationships: { space: { data: { guid: spaceGuid } }, domain: { data: { guid: domain } } },
      })
    ).guid as string;
    await this.client.ok(
      'POST',
      `/v3/routes/${route}/destinations`,
      auth,
      { destinations: [{ app: { guid: app } }] },
      200,
    );
    return route;
  }

  /** The process's instances as `stats` shows them. */
  async stats(
    auth: string,
    process: string,
  ): Promise<{ index: number; state: string; uptime: number; details?: string }[]> {
    return (await this.client.ok('GET', `/v3/processes/${process}/stats`, auth)).resources;
  }

  async waitRunning(auth: string, process: string, count: number, timeoutMs = 60_000): Promise<void> {
    await this.waitFor(
      async () => {
        const s = await this.stats(auth, process);
        return s.filter((i) => i.state === 'RUNNING').length >= count && s.length === count ? s : undefined;
      },
      timeoutMs,
      `${count} RUNNING instances of ${process}`,
    );
  }

  async waitDeployed(auth: string, deployment: string, timeoutMs = 120_000): Promise<void> {
    await this.waitFor(
      async () => {
        const d = await this.client.ok('GET', `/v3/deployments/${deployment}`, auth);
        if (d.status.value === 'FINALIZED' && d.status.reason !== 'DEPLOYED')
          throw new Error(`deployment ${deployment} ended ${d.status.reason}`);
        return d.status.reason === 'DEPLOYED' ? d : undefined;
      },
      timeoutMs,
      `deployment ${deployment}`,
    );
  }

  async waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Requests in a loop from `concurrency` clients until stopped: what failed, and how many went. */
export class LoadGenerator {
  readonly failures: string[] = [];
  ok = 0;
  #stop = false;
  readonly #done: Promise<void>;

  constructor(
    send: () => Promise<{ status: number; body: string }>,
    concurrency = 4,
    expect?: (body: string) => boolean,
  ) {
    this.#done = Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (!this.#stop) {
          try {
            const { status, body } = await send();
            if (status !== 200 || (expect && !expect(body))) this.failures.push(`${status} ${body.slice(0, 200)}`);
            else this.ok++;
          } catch (err) {
            this.failures.push(String(err));
          }
        }
      }),
    ).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }
}

/** A whole platform in this process that runs apps (router on a free port), with an admin, org "acme" and space "dev". */
export interface RunningPlatform {
  home: string;
  store: LocalStore;
  pstore: SqlitePlatformStore;
  server: Awaited<ReturnType<typeof startPlatformServer>>;
  client: PlatformClient;
  pusher: AppPusher;
  admin: string;
  org: string;
  space: string;
  close(): Promise<void>;
}

export const APPS_DOMAIN = 'apps.test';

export async function startRunningPlatform(prefix: string): Promise<RunningPlatform> {
  const dir = await tempDir(prefix);
  const home = join(dir.path, 'home');
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'admin-pw'), 'admin-secret-pw');
  const store = await LocalStore.open(home);
  const pstore = await SqlitePlatformStore.open(join(home, 'platform.sqlite'));
  const server = await startPlatformServer({
    store,
    platformStore: pstore,
    addr: '127.0.0.1:0',
    adminPasswordFile: join(home, 'admin-pw'),
    gcIntervalMs: 0,
    gcGraceMs: 3600_000,
    warn: (m) => process.stderr.write(`platform: ${m}\n`),
    domain: APPS_DOMAIN,
    run: { routerAddr: '127.0.0.1:0', buildWorkers: 2, intervalMs: 250, drainMs: 300 },
  });
  const client = new PlatformClient(server.url);
  const pusher = new AppPusher(client, server.routerUrl!, APPS_DOMAIN);
  const admin = await client.login('admin', 'admin-secret-pw');
  const org = await client.createOrg(admin, 'acme');
  const space = await client.createSpace(admin, org, 'dev');
  return {
    home,
    store,
    pstore,
    server,
    client,
    pusher,
    admin,
    org,
    space,
    async close() {
      pusher.close();
      await server.close();
      // Instances outlive the server by design (adoption): a test's go with it.
      await removeContainers(home);
      await store.close();
      await dir.cleanup();
    },
  };
}

/** Removes every container of the runtime in `home` (a test's instances). */
export async function removeContainers(home: string): Promise<void> {
  const runtime = ContainerRuntime.open(home);
  try {
    for (const c of await runtime.list()) await runtime.remove(c.name, { force: true }).catch(() => undefined);
  } finally {
    runtime.close();
  }
}
