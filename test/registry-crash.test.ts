import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  addRandomImage,
  commandExists,
  randomStream,
  run,
  sha256File,
  slipway,
  slipwayOk,
  startSlipwayRegistry,
  tempDir,
  type GeneratedImage,
  type RegistryProcess,
} from './helpers.js';

/**
 * The registry killed with SIGKILL while 20 skopeo pushes (distinct images sharing
 * layers, 24-36 MB each) are under way, then restarted on the same store: no partial
 * blob is readable, every push that completed is intact, an interrupted chunked
 * upload resumes, and the rest are cleaned up by GC.
 */

const IMAGES = 20;
const MB = 1_000_000;
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface Push {
  image: GeneratedImage;
  repo: string;
  /** skopeo's exit code; undefined while it runs. */
  code?: number | null;
  stderr: string;
  done: Promise<void>;
}

/** Starts `skopeo copy` of one tag of the layout to the registry, in the background. */
function startPush(layout: string, image: GeneratedImage, host: string, repo: string): Push {
  const push: Push = { image, repo, stderr: '', done: Promise.resolve() };
  const child = spawn(
    'skopeo',
    [
      '--insecure-policy',
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${layout}:${image.tag}`,
      `docker://${host}/${repo}:v1`,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  child.stderr.on('data', (d) => (push.stderr += d));
  push.done = new Promise((resolve) =>
    child.once('exit', (code) => {
      push.code = code;
      resolve();
    }),
  );
  return push;
}

/** GET a blob from the registry; its bytes hashed, or undefined on 404. */
async function blobDigest(registry: RegistryProcess, repo: string, digest: string): Promise<string | undefined> {
  const res = await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`);
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  assert.equal(res.status, 200, `GET ${repo} blob ${digest}`);
  const hash = createHash('sha256');
  for await (const chunk of res.body!) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

async function until(what: string, ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SIGKILL during 20 concurrent pushes, then a restart on the same store', {
  skip: !process.env.CI && !commandExists('skopeo') && 'skopeo is not installed',
}, () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let layout: string;
  let images: GeneratedImage[];
  let pushes: Push[];
  let server: RegistryProcess;
  // A chunked upload of a known blob: half sent before the kill, the rest after.
  const chunked = { repo: 'crash/chunked', data: Buffer.alloc(0), location: '' };
  // Another chunked upload nobody finishes: GC must remove it.
  let abandoned = '';

  before(async () => {
    work = await tempDir('registry-crash');
    home = join(work.path, 'home');
    layout = join(work.path, 'layout');
    images = [];
    for (let i = 0; i < IMAGES; i++) {
      images.push(
        await addRandomImage(layout, `img${i}`, [
          { seed: 'crash-base', size: 4 * MB },
          { seed: `crash-shared-${i % 3}`, size: 8 * MB },
          { seed: `crash-own-${i}`, size: (12 + 3 * (i % 5)) * MB },
        ]),
      );
    }
    const first = await startSlipwayRegistry(home);
    try {
      chunked.data = Buffer.concat(await (await randomStream('crash-chunked', 6 * MB)).toArray());
      const start = await fetch(`${first.url}/v2/${chunked.repo}/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 202);
      const half = chunked.data.subarray(0, 3 * MB);
      const patch = await fetch(new URL(start.headers.get('location')!, first.url), {
        method: 'PATCH',
        body: half,
        headers: { 'Content-Range': `0-${half.length - 1}`, 'Content-Type': 'application/octet-stream' },
      });
      assert.equal(patch.status, 202);
      chunked.location = patch.headers.get('location')!;
      const other = await fetch(`${first.url}/v2/crash/abandoned/blobs/uploads/`, { method: 'POST' });
      abandoned = other.headers.get('location')!;
      await fetch(new URL(abandoned, first.url), {
        method: 'PATCH',
        body: Buffer.alloc(1 * MB, 1),
        headers: { 'Content-Type': 'application/octet-stream' },
      });

      // 20 pushes, started 60 ms apart; killed once a few have completed and others are under way.
      pushes = [];
      for (const [i, image] of images.entries()) {
        pushes.push(startPush(layout, image, first.host, `crash/app-${i}`));
        await new Promise((r) => setTimeout(r, 60));
      }
      await until(
        '3 completed pushes',
        120_000,
        () => pushes.filter((p) => p.code === 0).length >= 3 || pushes.every((p) => p.code !== undefined),
      );
      const failed = pushes.filter((p) => p.code !== undefined && p.code !== 0);
      assert.ok(
        pushes.filter((p) => p.code === 0).length >= 3,
        `pushes failed before the kill:\n${failed.map((p) => p.stderr).join('\n')}`,
      );
    } finally {
      await first.kill();
    }
    await Promise.all(pushes.map((p) => p.done));
    server = await startSlipwayRegistry(home);
  });
  after(async () => {
    await server?.stop();
    await work.cleanup();
  });

  test('some pushes completed before the kill and some were cut off', async (t) => {
    const completed = pushes.filter((p) => p.code === 0).length;
    t.diagnostic(
      `${completed} of ${IMAGES} pushes completed before the kill; ${(await readdir(join(home, 'ingest'))).length} uploads were on disk after it`,
    );
    assert.ok(completed >= 3, `${completed} completed`);
    assert.ok(completed < IMAGES, 'the kill must interrupt pushes in progress, not come after all of them');
  });

  test('every blob file in the store hashes to its name, and slipway verify is clean', async () => {
    const dir = join(home, 'blobs/sha256');
    const names = await readdir(dir);
    assert.ok(names.length > 0);
    for (const name of names) assert.equal(await sha256File(join(dir, name)), `sha256:${name}`, `blob ${name}`);
    const report = JSON.parse(await slipwayOk(home, ['--json', 'verify']));
    assert.deepEqual(report.problems, []);
  });

  test('every blob the restarted server serves, completed push or not, hashes to its digest', async () => {
    for (const push of pushes) {
      for (const layer of push.image.layers) {
        const got = await blobDigest(server, push.repo, layer.digest);
        if (push.code === 0) assert.equal(got, layer.digest, `${push.repo}: layer of a completed push`);
        else assert.ok(got === undefined || got === layer.digest, `${push.repo}: a partial blob served`);
      }
    }
  });

  test('every completed push pulls back with skopeo, same manifest digest, same layers', async () => {
    for (const push of pushes.filter((p) => p.code === 0)) {
      const pulled = join(work.path, `pulled-${push.image.tag}`);
      await run('skopeo', [
        '--insecure-policy',
        'copy',
        '--quiet',
        '--src-tls-verify=false',
        `docker://${server.host}/${push.repo}:v1`,
        `oci:${pulled}:v1`,
      ]);
      const index = JSON.parse(await readFile(join(pulled, 'index.json'), 'utf8'));
      assert.equal(index.manifests[0].digest, push.image.digest, push.repo);
      for (const layer of push.image.layers)
        assert.equal(await sha256File(join(pulled, 'blobs/sha256', layer.digest.slice(7))), layer.digest);
    }
  });

  test('a push cut off by the kill succeeds when retried', async () => {
    const push = pushes.find((p) => p.code !== 0)!;
    await run('skopeo', [
      '--insecure-policy',
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${layout}:${push.image.tag}`,
      `docker://${server.host}/${push.repo}:v1`,
    ]);
    const res = await fetch(`${server.url}/v2/${push.repo}/manifests/v1`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), push.image.manifest);
  });

  test('the chunked upload interrupted by the kill resumes where it stopped', async () => {
    const url = new URL(chunked.location, server.url);
    const status = await fetch(url);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${3 * MB - 1}`);
    const rest = chunked.data.subarray(3 * MB);
    const patch = await fetch(url, {
      method: 'PATCH',
      body: rest,
      headers: { 'Content-Range': `${3 * MB}-${chunked.data.length - 1}`, 'Content-Type': 'application/octet-stream' },
    });
    assert.equal(patch.status, 202);
    const digest = sha256(chunked.data);
    const put = await fetch(new URL(`${patch.headers.get('location')}?digest=${digest}`, server.url), {
      method: 'PUT',
    });
    assert.equal(put.status, 201, await put.text());
    assert.equal(await blobDigest(server, chunked.repo, digest), digest);
  });

  test('slipway gc removes the uploads the kill abandoned; completed images stay intact', async () => {
    const ingest = join(home, 'ingest');
    assert.ok((await readdir(ingest)).length >= 1, 'at least the abandoned upload is on disk');
    const report = JSON.parse(await slipwayOk(home, ['--json', 'gc']));
    assert.ok(report.ingestsRemoved >= 1, JSON.stringify(report));
    assert.deepEqual(await readdir(ingest), [], 'no upload is left on disk');
    assert.equal((await fetch(new URL(abandoned, server.url))).status, 404, 'the abandoned upload is gone');
    assert.deepEqual(JSON.parse(await slipwayOk(home, ['--json', 'verify'])).problems, []);
    for (const push of pushes.filter((p) => p.code === 0)) {
      const res = await fetch(`${server.url}/v2/${push.repo}/manifests/v1`, {
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), push.image.manifest);
      for (const layer of push.image.layers)
        assert.equal(await blobDigest(server, push.repo, layer.digest), layer.digest);
    }
    assert.equal((await slipway(home, ['verify'])).code, 0);
  });

  // A commit killed between removing an ingest's meta.json and its directory leaves an
  // empty directory (seen in this test before the store learned to remove them).
  test('an ingest directory a kill left empty is removed by gc', async () => {
    const leftover = join(home, 'ingest', '0b3d1c2e-0000-4000-8000-000000000000');
    await mkdir(leftover);
    await slipwayOk(home, ['gc']);
    assert.equal(existsSync(leftover), false, 'the empty ingest directory is still there');
  });
});
