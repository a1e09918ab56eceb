import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import tarStream from 'tar-stream';
import { defaultTokenKeyPath, loadOrCreateTokenKey } from '../src/auth/token-key.js';
import { isSlipwayError } from '../src/errors.js';
import { readTar } from '../src/layer/tar-reader.js';
import { PlatformTokens } from '../src/platform/identity/tokens.js';
import { AppLogs } from '../src/platform/logs.js';
import { type App, emptyMetadata, newGuid } from '../src/platform/model.js';
import { LocalStagingQueue } from '../src/platform/staging/local-staging-queue.js';
import { PackageStore } from '../src/platform/staging/package-store.js';
import { SqliteResourcePool } from '../src/platform/staging/resource-pool.js';
import { PlatformImages } from '../src/platform/staging/platform-images.js';
import { RemoteStagingQueue, type WorkerEvent } from '../src/platform/staging/remote-staging-queue.js';
import type { StagedImage } from '../src/platform/staging/stage-build.js';
import type { StagingJob } from '../src/platform/staging/staging-queue.js';
import { Fixture } from '../src/platform/store/platform-store-fixture.js';
import { SqlitePlatformStore } from '../src/platform/store/sqlite-platform-store.js';
import type { WorkloadStore } from '../src/platform/store/workload-store.js';
import type { Build } from '../src/platform/workload.js';
import { RegistryClient } from '../src/registry/client/client.js';
import { type RunningPlatformServer, startPlatformServer } from '../src/server/index.js';
import { createWorkerApp, loadOrCreateWorkerSecret } from '../src/server/staging/worker-api.js';
import { latestVersion, listStackNames } from '../src/stack/stack-catalog.js';
import { ensureDefaultStack } from '../src/stack/default-stack.js';
import { LocalStore } from '../src/store/local-store.js';
import { commandExists, ROOT, slipway, tempDir } from './helpers.js';

/**
 * `slipway worker` and the worker API against a real `slipway serve` (the platform
 * server in-process, its real registry and token endpoint, SQLite stores). The end to
 * end test uses the server's own /internal/v1; the others a worker API of the test's
 * own over the same stores (its queue has a short stale time, for the take-over test,
 * and its app log is the test's to read), mounted at /internal/v1 of a front that sends
 * everything else to the platform server, so a worker reaches API and registry at one
 * URL as it does in production.
 */

const STALE_MS = 1500;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface Front {
  url: string;
  close(): Promise<void>;
}

/** /internal/v1 to the worker app, everything else (registry, /token, /v3) to the platform server. */
async function front(target: string, workerApp: Hono): Promise<Front> {
  const api = getRequestListener(new Hono().route('/internal/v1', workerApp).fetch);
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/internal/v1/')) {
      void api(req, res);
      return;
    }
    const up = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A small image in `store` (random gzip layers; `layers` may start with existing ones), tagged. */
async function putImage(
  store: LocalStore,
  repository: string,
  tag: string,
  seeds: string[],
  base: { digest: string; size: number; diffId: string; gz: Buffer }[] = [],
  labels: Record<string, string> = {},
): Promise<{ digest: string; layers: { digest: string; size: number; diffId: string; gz: Buffer }[] }> {
  const layers = [
    ...base,
    ...seeds.map((seed) => {
      const raw = Buffer.concat([Buffer.from(seed), randomBytes(4096)]);
      const gz = gzipSync(raw);
      return { digest: sha256(gz), size: gz.length, diffId: sha256(raw), gz };
    }),
  ];
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin'], Labels: labels },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: l.digest,
        size: l.size,
      })),
    }),
  );
  const desc = await store.withLease(async (lease) => {
    for (const l of layers) await lease.putBlob(Readable.from([l.gz]), { digest: l.digest as never, size: l.size });
    await lease.putBlob(Readable.from([config]), { digest: sha256(config) as never, size: config.length });
    return store.putManifest(repository, manifest, OCI_MANIFEST, [tag], lease);
  });
  return { digest: desc.digest, layers };
}

describe('slipway worker: build workers against a running platform (worker API, staging tokens, registry)', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let store: LocalStore;
  let pstore: SqlitePlatformStore;
  let workloads: WorkloadStore;
  let server: RunningPlatformServer;
  let tokens: PlatformTokens;
  let packages: PackageStore;
  let logs: AppLogs;
  let fx: Fixture;
  let secret: string;
  let api: Front;
  const builds: string[] = [];
  const queues: RemoteStagingQueue[] = [];
  let runLayer: { digest: string; size: number; diffId: string; gz: Buffer };

  const remote = (options: { secret?: string; events?: WorkerEvent[]; url?: string } = {}) => {
    const q = new RemoteStagingQueue({
      server: options.url ?? api.url,
      secret: options.secret ?? secret,
      logFlushMs: 50,
      attempts: 2,
      ...(options.events ? { onEvent: (e: WorkerEvent) => options.events!.push(e) } : {}),
    });
    queues.push(q);
    return q;
  };

  /** An app in org acme / space dev with a READY package of `files` and a queued build of it. */
  const queued = async (app: App, zipFile?: string, extra: Partial<Build> = {}): Promise<Build> => {
    const pkg = await workloads.createPackage({
      guid: newGuid(),
      appGuid: app.guid,
      type: 'bits',
      state: 'READY',
      metadata: emptyMetadata(),
      createdAt: fx.time(),
      updatedAt: fx.time(),
    });
    if (zipFile) await packages.store(pkg.guid, createReadStream(zipFile), []);
    const t = fx.time();
    const build = await workloads.createBuild({
      guid: newGuid(),
      appGuid: app.guid,
      packageGuid: pkg.guid,
      state: 'STAGING',
      error: null,
      lifecycle: app.lifecycle,
      stagingMemoryMb: 1024,
      stagingDiskMb: 4096,
      metadata: emptyMetadata(),
      createdAt: t,
      updatedAt: t,
      ...extra,
    });
    builds.push(build.guid);
    return build;
  };

  let org: Awaited<ReturnType<Fixture['org']>>;
  let space: Awaited<ReturnType<Fixture['space']>>;

  before(async () => {
    work = await tempDir('staging-worker');
    const home = join(work.path, 'platform');
    mkdirSync(home, { recursive: true });
    store = await LocalStore.open(home);
    pstore = await SqlitePlatformStore.open(join(home, 'platform.sqlite'));
    workloads = pstore.workloads;
    server = await startPlatformServer({
      store,
      addr: '127.0.0.1:0',
      platformStore: pstore,
      gcIntervalMs: 0,
      gcGraceMs: 3600_000,
      warn: () => {},
    });
    // The platform's own signing key: the registry takes the tokens the worker API issues.
    tokens = new PlatformTokens({ key: await loadOrCreateTokenKey(defaultTokenKeyPath(home)), issuer: 'slipway-uaa' });
    packages = new PackageStore(store, new SqliteResourcePool(join(home, 'resource-pool.sqlite')));
    logs = new AppLogs();
    secret = loadOrCreateWorkerSecret(home);
    const queue = new LocalStagingQueue(pstore, workloads, packages, logs, STALE_MS);
    api = await front(server.url, createWorkerApp({ queue, packages, tokens, secret, store }));
    fx = new Fixture(pstore);
    org = await fx.org('acme');
    space = await fx.space(org, 'dev');
    // A stack on the platform (small images; the end-to-end test brings the real default stack).
    const run = await putImage(store, 'tiny/run', '1', ['run-base'], [], { 'io.buildpacks.stack.id': 'io.test.tiny' });
    runLayer = run.layers[0]!;
    await store.meta.setTag('tiny/run', 'latest', run.digest as never);
    const build = await putImage(store, 'tiny/build', '1', ['build-base']);
    await store.meta.setTag('tiny/build', 'latest', build.digest as never);
  });

  afterEach(async () => {
    // Nothing a test queued is left for the next one to claim.
    for (const guid of builds.splice(0)) {
      const b = await workloads.getBuild(guid);
      if (b?.state === 'STAGING') await workloads.updateBuild(guid, { state: 'FAILED', error: 'test over' });
    }
  });

  after(async () => {
    for (const q of queues) await q.close();
    await api?.close();
    await server?.close();
    await store?.close();
    await work?.cleanup();
  });

  test('the worker secret is made once, 0600, and the API refuses a missing or wrong one (401)', async () => {
    const file = join(work.path, 'platform', 'worker-secret');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.equal(loadOrCreateWorkerSecret(join(work.path, 'platform')), secret);
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${secret}`, `Bearer ${secret}x`]) {
      const res = await fetch(`${api.url}/internal/v1/builds/claim`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ workerId: 'w' }),
      });
      assert.equal(res.status, 401, String(authorization));
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    }
    await assert.rejects(remote({ secret: 'nope' }).ping(), (err) => isSlipwayError(err, 'UNAUTHORIZED'));
    // slipway serve mounts it at /internal/v1, behind the secret of its home.
    await assert.rejects(remote({ secret: 'nope', url: server.url }).ping(), (err) =>
      isSlipwayError(err, 'UNAUTHORIZED'),
    );
    await remote({ url: server.url }).ping();
    await remote().ping();
    assert.equal(await remote().claim('w'), undefined, 'nothing queued: 204');
  });

  test('a claim is exclusive: of two workers claiming at once, each build goes to exactly one', async () => {
    const app = await fx.app(space, 'claims');
    const queuedGuids = new Set<string>();
    for (let i = 0; i < 4; i++) queuedGuids.add((await queued(app)).guid);
    const [q1, q2] = [remote(), remote()];
    const claims = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const q = i % 2 === 0 ? q1 : q2;
        return { q, job: await q.claim(`worker-${i % 2}`) };
      }),
    );
    const got = claims.flatMap((c) => (c.job ? [c.job.build.guid] : []));
    assert.equal(got.length, 4);
    assert.deepEqual(new Set(got), queuedGuids);
    for (const guid of got) {
      const b = await workloads.getBuild(guid);
      assert.match(b?.workerId ?? '', /^worker-[01]$/);
    }
    // And each has its staging token, for its own app's repository.
    const { q, job } = claims.find((c) => c.job)!;
    const claimsOfToken = await tokens.verifyStaging(q.stagingToken(job!));
    assert.equal(claimsOfToken.repository, 'acme/dev/claims');
    assert.equal(claimsOfToken.appGuid, app.guid);
  });

  test('a worker that stops heartbeating loses the build to another after the stale time', async () => {
    const app = await fx.app(space, 'stale');
    const build = await queued(app);
    const events: WorkerEvent[] = [];
    const [silent, other] = [remote({ events }), remote()];
    const job = await silent.claim('silent');
    assert.equal(job?.build.guid, build.guid);
    assert.equal(await other.claim('other'), undefined, 'held while fresh');
    assert.equal(await silent.heartbeat(job!, 'silent'), true);
    assert.equal(await other.claim('other'), undefined, 'a heartbeat keeps it');
    await new Promise((r) => setTimeout(r, STALE_MS + 300));
    const taken = await other.claim('other');
    assert.equal(taken?.build.guid, build.guid);
    assert.equal(await silent.heartbeat(job!, 'silent'), false, 'the first worker is told it is no longer its');
    // Its result is refused (409) and changes nothing.
    await silent.fail(job!, 'silent', 'StagingError - too late');
    const b = await workloads.getBuild(build.guid);
    assert.equal(b?.state, 'STAGING');
    assert.equal(b?.workerId, 'other');
    assert.deepEqual(
      events.map((e) => e.event),
      ['claimed', 'lost', 'lost'],
    );
    await other.fail(taken!, 'other', 'StagingError - done here');
    assert.equal((await workloads.getBuild(build.guid))?.error, 'StagingError - done here');
  });

  test('the package comes as a tar of exactly its files with their modes; extract writes them', async (t) => {
    if (!commandExists('zip')) return t.skip('zip is not installed');
    const src = join(work.path, 'pkg-src');
    mkdirSync(join(src, 'bin'), { recursive: true });
    mkdirSync(join(src, 'lib', 'deep'), { recursive: true });
    const files: Record<string, { mode: number; text: string }> = {
      Procfile: { mode: 0o644, text: 'web: bin/run\n' },
      'bin/run': { mode: 0o755, text: '#!/bin/sh\necho hi\n' },
      'lib/deep/secret.txt': { mode: 0o600, text: 'only me' },
      'lib/empty': { mode: 0o644, text: '' },
    };
    for (const [path, f] of Object.entries(files)) {
      writeFileSync(join(src, path), f.text);
      chmodSync(join(src, path), f.mode);
    }
    const zip = join(work.path, 'pkg.zip');
    execFileSync('zip', ['-q', '-X', '-r', zip, '.'], { cwd: src });
    const app = await fx.app(space, 'tar');
    const build = await queued(app, zip);
    const q = remote();
    const job = await q.claim('tar-worker');
    assert.equal(job?.build.guid, build.guid);

    const res = await fetch(`${api.url}/internal/v1/builds/${build.guid}/package`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-tar');
    const seen: Record<string, { mode: number; text: string; type: string }> = {};
    for await (const { entry, content } of readTar(Readable.fromWeb(res.body as never))) {
      const chunks: Buffer[] = [];
      for await (const c of content) chunks.push(c as Buffer);
      seen[entry.path] = { mode: entry.mode, text: Buffer.concat(chunks).toString(), type: entry.type };
    }
    assert.deepEqual(seen, Object.fromEntries(Object.entries(files).map(([p, f]) => [p, { ...f, type: 'file' }])));

    const out = join(work.path, 'extracted');
    mkdirSync(out);
    await q.extract(job!, out);
    for (const [path, f] of Object.entries(files)) {
      assert.equal(readFileSync(join(out, path), 'utf8'), f.text, path);
      assert.equal(statSync(join(out, path)).mode & 0o777, f.mode, path);
    }
    // A build this worker API never handed out has no package to give.
    const unknown = await fetch(`${api.url}/internal/v1/builds/${newGuid()}/package`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    assert.equal(unknown.status, 409);
  });

  test('extract refuses a tar that climbs out, is absolute, or holds links, and writes nothing outside', async () => {
    const hostile: { name: string; type?: 'symlink' | 'link'; linkname?: string }[][] = [
      [{ name: '../escape.txt' }],
      [{ name: '/tmp/absolute.txt' }],
      [{ name: 'link', type: 'symlink', linkname: '/etc' }],
      [{ name: 'ok.txt' }, { name: 'hard', type: 'link', linkname: 'ok.txt' }],
    ];
    for (const entries of hostile) {
      const pack = tarStream.pack();
      for (const e of entries)
        if (e.type) pack.entry({ name: e.name, type: e.type, linkname: e.linkname! });
        else pack.entry({ name: e.name, mode: 0o644 }, 'x');
      pack.finalize();
      const chunks: Buffer[] = [];
      for await (const c of pack) chunks.push(c as Buffer);
      const tar = Buffer.concat(chunks);
      // A platform that sends such a tar cannot be made from the real one: a stand-in answers the package call.
      const fake = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/x-tar' });
        res.end(tar);
      });
      await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
      try {
        const q = remote({ url: `http://127.0.0.1:${(fake.address() as AddressInfo).port}` });
        const dir = join(work.path, `hostile-${randomBytes(4).toString('hex')}`, 'app');
        mkdirSync(dir, { recursive: true });
        const job = { build: { guid: newGuid() } } as StagingJob;
        await assert.rejects(
          q.extract(job, dir),
          (err) => isSlipwayError(err, 'UNSAFE_ARCHIVE_ENTRY'),
          entries.at(-1)!.name,
        );
        assert.equal(existsSync(join(dir, '..', 'escape.txt')), false);
        assert.equal(existsSync(join(dir, 'link')), false);
      } finally {
        fake.closeAllConnections();
        fake.close();
      }
    }
  });

  test('staging output arrives in the app log, batched, in order', async () => {
    const app = await fx.app(space, 'logs');
    await queued(app);
    const q = remote();
    const job = (await q.claim('log-worker'))!;
    for (let i = 0; i < 50; i++) q.log(job, i % 5 === 0 ? 'ERR' : 'OUT', `line ${i}`);
    await new Promise((r) => setTimeout(r, 300));
    const lines = logs.recent(app.guid);
    assert.deepEqual(
      lines.map((l) => l.text),
      Array.from({ length: 50 }, (_, i) => `line ${i}`),
    );
    assert.equal(lines[5]?.stream, 'ERR');
    assert.ok(lines.every((l) => l.source === 'STG'));
    // A JSON array does as well as ndjson; a line that is not {stream, text} is refused whole.
    const post = (body: string) =>
      fetch(`${api.url}/internal/v1/builds/${job.build.guid}/logs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body,
      });
    assert.equal((await post(JSON.stringify([{ stream: 'OUT', text: 'from an array' }]))).status, 204);
    assert.equal((await post(JSON.stringify([{ stream: 'APP', text: 'no' }]))).status, 400);
    assert.equal((await post('{"stream":"OUT"')).status, 400);
    assert.equal(logs.recent(app.guid).at(-1)?.text, 'from an array');
    // The last lines before a result are sent before it.
    q.log(job, 'OUT', 'last words');
    await q.fail(job, 'log-worker', 'StagingError - x');
    assert.equal(logs.recent(app.guid).at(-1)?.text, 'last words');
  });

  test("a staging token pushes to its own app only (another app's repository is hidden: NAME_UNKNOWN; a stack: 403 DENIED) and pulls the stacks", async () => {
    const [a, b] = [await fx.app(space, 'app-a'), await fx.app(space, 'app-b')];
    await queued(a);
    const q = remote();
    const job = (await q.claim('token-worker'))!;
    assert.equal(job.app.guid, a.guid);
    const client = new RegistryClient(api.url, { credentials: { username: 'staging', password: q.stagingToken(job) } });
    const blob = randomBytes(100);
    const push = (repo: string) =>
      client.putBlob(repo, Readable.from([blob]), { digest: sha256(blob) as never, size: blob.length });
    // Another app's repository is hidden from it (the policy's registryAccess): refused as if it did not exist.
    const refusal = await push('acme/dev/app-b').then(
      () => assert.fail('pushed to another app'),
      (err: unknown) => err,
    );
    assert.ok(isSlipwayError(refusal, 'NAME_UNKNOWN'), String(refusal));
    const nothing = await push('acme/dev/no-such-app').then(
      () => assert.fail('pushed to nothing'),
      (err: unknown) => err,
    );
    assert.equal((nothing as Error).message.replaceAll('no-such-app', 'app-b'), (refusal as Error).message);
    await assert.rejects(client.listTags('acme/dev/app-b'), (err) => isSlipwayError(err, 'NAME_UNKNOWN'));
    assert.equal(await store.meta.hasBlobLink(`apps/${b.guid}`, sha256(blob) as never), false);
    // Its own app's repository: yes.
    assert.equal((await push('acme/dev/app-a')).digest, sha256(blob));
    assert.equal(await store.meta.hasBlobLink(`apps/${a.guid}`, sha256(blob) as never), true);
    // The stacks: pull and list, never push.
    assert.deepEqual((await client.listTags('stacks/tiny/run')).sort(), ['1', 'latest']);
    const manifest = await client.getManifest('stacks/tiny/run', 'latest', [OCI_MANIFEST]);
    assert.equal(manifest.digest, await store.meta.resolveTag('tiny/run', 'latest'));
    // A repository it sees but may not write: 403 DENIED.
    await assert.rejects(push('stacks/tiny/run'), (err) => isSlipwayError(err, 'DENIED'));
  });

  test('a worker pulls the stack once into its store as the catalog keeps it, and again only when it changes', async () => {
    const workerHome = join(work.path, 'worker-stack');
    const wstore = await LocalStore.open(workerHome);
    try {
      const app = await fx.app(space, 'stacky', {
        lifecycle: { type: 'cnb', data: { buildpacks: [], stack: 'tiny' } },
      });
      await queued(app);
      const q = remote();
      const job = (await q.claim('stack-worker'))!;
      const pulls: string[] = [];
      const images = new PlatformImages({
        store: wstore,
        server: api.url,
        progress: { start() {}, advance() {}, done() {}, log: (m) => pulls.push(m) },
      });
      await Promise.all([images.ensureStack(job, q.stagingToken(job)), images.ensureStack(job, q.stagingToken(job))]);
      assert.equal(pulls.length, 1, pulls.join('\n'));
      assert.deepEqual(await listStackNames(wstore), ['tiny']);
      const latest = await latestVersion(wstore, 'tiny');
      assert.equal(latest?.version, '1');
      assert.equal(latest?.run.digest, await store.meta.resolveTag('tiny/run', 'latest'));
      assert.equal(latest?.run.labels['io.buildpacks.stack.id'], 'io.test.tiny', 'labels come along');
      await images.ensureStack(job, q.stagingToken(job));
      assert.equal(pulls.length, 1, 'cached');
      // The platform makes version 2: the worker follows.
      const v2 = await putImage(store, 'tiny/run', '2', ['run-base-2']);
      await store.meta.setTag('tiny/run', 'latest', v2.digest as never);
      const b2 = await putImage(store, 'tiny/build', '2', ['build-base-2']);
      await store.meta.setTag('tiny/build', 'latest', b2.digest as never);
      await images.ensureStack(job, q.stagingToken(job));
      assert.equal(pulls.length, 2);
      assert.equal((await latestVersion(wstore, 'tiny'))?.version, '2');
      assert.equal((await latestVersion(wstore, 'tiny'))?.build.digest, b2.digest);
      // A stack the platform does not have: NOT_FOUND, said plainly.
      const missing = {
        ...job,
        build: { ...job.build, lifecycle: { type: 'cnb', data: { buildpacks: [], stack: 'nope' } } },
      };
      await assert.rejects(
        images.ensureStack(missing as StagingJob, q.stagingToken(job)),
        (err) => isSlipwayError(err, 'NOT_FOUND') && /no stack "nope"/.test(err.message),
      );
    } finally {
      await wstore.close();
    }
  });

  test('succeed records only an image the registry holds for the app: publish pushes it, same digest', async () => {
    const app = await fx.app(space, 'publish');
    const build = await queued(app);
    const q = remote();
    const job = (await q.claim('publish-worker'))!;
    const wstore = await LocalStore.open(join(work.path, 'worker-publish'));
    try {
      // Staged in the worker's store on the stack's run layer, as stageBuild leaves it.
      const staged = await putImage(wstore, `apps/${app.guid}`, build.guid, ['app-layer'], [runLayer]);
      const image: StagedImage = {
        repository: `apps/${app.guid}`,
        tag: build.guid,
        digest: staged.digest,
        processTypes: { web: 'bin/run' },
        buildpacks: [{ name: 'slipway/procfile', buildpackName: 'slipway/procfile', detectOutput: null, version: '1' }],
        stack: 'tiny',
        stackVersion: '1',
        executionMetadata: '{}',
      };
      // Not pushed yet: refused, and the build is untouched.
      await assert.rejects(
        q.succeed(job, 'publish-worker', image),
        (err) => isSlipwayError(err, 'INVALID_ARGUMENT') && err.detail?.['apiCode'] === 'MANIFEST_UNKNOWN',
      );
      await assert.rejects(
        q.succeed(job, 'publish-worker', { ...image, digest: 'sha256:1234' }),
        (err) => isSlipwayError(err, 'INVALID_ARGUMENT') && /digest/.test(err.message),
      );
      assert.equal((await workloads.getBuild(build.guid))?.state, 'STAGING');

      const images = new PlatformImages({ store: wstore, server: api.url });
      const published = await images.publish(job, image, q.stagingToken(job));
      assert.equal(published.digest, staged.digest);
      assert.equal(await store.meta.resolveTag(`apps/${app.guid}`, build.guid), staged.digest);
      // Another app's image (here: this digest claimed for another repository) is refused too.
      await assert.rejects(q.succeed(job, 'publish-worker', { ...image, repository: 'apps/someone-else' }), (err) =>
        isSlipwayError(err, 'INVALID_ARGUMENT'),
      );
      // A worker that does not hold the build cannot record it.
      await q.succeed(job, 'not-the-holder', image);
      assert.equal((await workloads.getBuild(build.guid))?.state, 'STAGING');

      await q.succeed(job, 'publish-worker', published);
      const done = await workloads.getBuild(build.guid);
      assert.equal(done?.state, 'STAGED');
      const droplet = await workloads.getDroplet(done!.dropletGuid!);
      assert.equal(droplet?.digest, staged.digest);
      assert.deepEqual(droplet?.processTypes, { web: 'bin/run' });
    } finally {
      await wstore.close();
    }
  });

  test('over HTTPS: the worker trusts --ca-file, or under --insecure the certificate the server presents', async (t) => {
    if (!commandExists('openssl')) return t.skip('openssl is not installed');
    const dir = join(work.path, 'tls');
    mkdirSync(dir, { recursive: true });
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'].concat([
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ]),
      { stdio: 'ignore' },
    );
    const tlsStore = await LocalStore.open(join(dir, 'home'));
    const tlsPlatform = await SqlitePlatformStore.open(join(dir, 'home', 'platform.sqlite'));
    const tlsServer = await startPlatformServer({
      store: tlsStore,
      addr: '127.0.0.1:0',
      tls: { cert: readFileSync(cert), key: readFileSync(key) },
      platformStore: tlsPlatform,
      gcIntervalMs: 0,
      gcGraceMs: 3600_000,
      warn: () => {},
    });
    const wstore = await LocalStore.open(join(dir, 'worker'));
    try {
      assert.match(tlsServer.url, /^https:/);
      for (const role of ['build', 'run']) {
        const img = await putImage(tlsStore, `tiny/${role}`, '1', [`tls-${role}`]);
        await tlsStore.meta.setTag(`tiny/${role}`, 'latest', img.digest as never);
      }
      const f = new Fixture(tlsPlatform);
      const app = await f.app(await f.space(await f.org('tls-org'), 'tls-space'), 'tls-app', {
        lifecycle: { type: 'cnb', data: { buildpacks: [], stack: 'tiny' } },
      });
      const t0 = f.time();
      const pkg = await tlsPlatform.workloads.createPackage({
        guid: newGuid(),
        appGuid: app.guid,
        type: 'bits',
        state: 'READY',
        metadata: emptyMetadata(),
        createdAt: t0,
        updatedAt: t0,
      });
      await tlsPlatform.workloads.createBuild({
        guid: newGuid(),
        appGuid: app.guid,
        packageGuid: pkg.guid,
        state: 'STAGING',
        error: null,
        lifecycle: app.lifecycle,
        stagingMemoryMb: 1024,
        stagingDiskMb: 1024,
        metadata: emptyMetadata(),
        createdAt: t0,
        updatedAt: t0,
      });
      const tlsSecret = loadOrCreateWorkerSecret(join(dir, 'home'));
      const tlsQueue = (o: { ca?: string; insecure?: boolean }) => {
        const q = new RemoteStagingQueue({ server: tlsServer.url, secret: tlsSecret, attempts: 1, ...o });
        queues.push(q);
        return q;
      };
      await assert.rejects(
        tlsQueue({}).ping(),
        (err) => isSlipwayError(err, 'IO_ERROR') && /certificate/.test(err.message),
      );
      await tlsQueue({ ca: readFileSync(cert, 'utf8') }).ping();
      const q = tlsQueue({ insecure: true });
      const job = (await q.claim('tls-worker'))!;
      assert.equal(job.app.guid, app.guid);
      // The registry client as well: refused untrusted, then through the pinned certificate, then the CA.
      await assert.rejects(
        new PlatformImages({ store: wstore, server: tlsServer.url }).ensureStack(job, q.stagingToken(job)),
        /certificate/,
      );
      await new PlatformImages({ store: wstore, server: tlsServer.url, insecure: true }).ensureStack(
        job,
        q.stagingToken(job),
      );
      assert.equal((await latestVersion(wstore, 'tiny'))?.run.digest, await tlsStore.meta.resolveTag('tiny/run', '1'));
      const caImages = new PlatformImages({ store: wstore, server: tlsServer.url, ca: readFileSync(cert, 'utf8') });
      await caImages.ensureStack(job, q.stagingToken(job));
      await q.fail(job, 'tls-worker', 'StagingError - test over');
    } finally {
      await wstore.close();
      await tlsServer.close();
      await tlsStore.close();
    }
  });

  test('slipway worker --help says how to run it, with an example', async () => {
    const r = await slipway(join(work.path, 'help-home'), ['worker', '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of ['--server', '--secret-file', '--concurrency', '--network', '--ca-file', '--insecure'])
      assert.ok(r.stdout.includes(flag), flag);
    assert.match(r.stdout, /Examples:\n\s+\$ /);
    const missing = await slipway(join(work.path, 'help-home'), ['worker']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--server/);
  });

  const sandbox = process.getuid?.() === 0 && commandExists('runc') && commandExists('zip');
  test('end to end: slipway worker stages examples/procfile (slipway/procfile) into a droplet whose bits are in the registry', {
    skip: sandbox ? false : 'needs root, runc and zip (the build sandbox)',
    timeout: 15 * 60_000,
  }, async () => {
    // The platform's default stack, from the stack cache (/var/cache/slipway/stacks) as the other tests get it.
    const stack = await ensureDefaultStack(store);
    const workerHome = join(work.path, 'worker-e2e');
    mkdirSync(workerHome, { recursive: true });
    const secretFile = join(work.path, 'copied-secret');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    const zip = join(work.path, 'procfile.zip');
    execFileSync('zip', ['-q', '-X', '-r', zip, '.'], { cwd: join(ROOT, 'examples/procfile') });
    const app = await fx.app(space, 'hello', {
      lifecycle: { type: 'buildpack', data: { buildpacks: ['slipway/procfile'], stack: null } },
      environmentVariables: { GREETING: 'hi' },
    });
    const build = await queued(app, zip);
    let child: ChildProcess | undefined;
    let stdout = '';
    let stderr = '';
    try {
      child = spawn(
        process.execPath,
        [
          '--',
          join(ROOT, 'bin/slipway.js'),
          '--json',
          'worker',
          '--server',
          server.url,
          '--secret-file',
          secretFile,
          '--network',
          'none',
        ],
        {
          env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: workerHome },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child!.on('close', (code) => resolve(code)));
      let state: Build | undefined;
      for (const deadline = Date.now() + 14 * 60_000; Date.now() < deadline; ) {
        state = await workloads.getBuild(build.guid);
        if (state?.state !== 'STAGING') break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(state?.state, 'STAGED', `${state?.error}\n${stderr}`);
      const droplet = (await workloads.getDroplet(state!.dropletGuid!))!;
      assert.equal(await store.meta.resolveTag(`apps/${app.guid}`, build.guid), droplet.digest);
      assert.ok(await store.meta.getManifest(`apps/${app.guid}`, droplet.digest as never));
      assert.match(droplet.processTypes['web'] ?? '', /hello from the Procfile app/);
      assert.equal(droplet.stack, 'default');
      assert.equal(droplet.stackVersion, stack.version);
      assert.deepEqual(
        droplet.buildpacks.map((b) => b.name),
        ['slipway/procfile'],
      );
      // The worker's store has the platform's stack, as the catalog keeps it.
      const wstore = await LocalStore.open(workerHome);
      try {
        assert.equal((await latestVersion(wstore, 'default'))?.run.digest, stack.run);
      } finally {
        await wstore.close();
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      const events = stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string; build?: string; digest?: string });
      assert.deepEqual(
        events.map((e) => e.event),
        ['started', 'claimed', 'staged', 'stopping', 'stopped'],
      );
      assert.equal(events[2]?.digest, droplet.digest);
      assert.equal(events[1]?.build, build.guid);
    } finally {
      if (child && child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
