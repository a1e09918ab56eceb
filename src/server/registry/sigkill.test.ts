import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { digestOf, type Digest } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import { LocalStore } from '../../store/local-store.js';

const CHILD = fileURLToPath(new URL('./testdata/registry-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let home: string;
before(async () => {
  home = await mkdtemp(join(tmpdir(), 'slipway-registry-kill-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

/** Starts a registry child on `home`; resolves with its URL once it listens. */
async function startServer(): Promise<{ url: string; child: ChildProcess; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, home], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line.startsWith('url ')) return { url: line.slice(4), child, exited };
  }
  throw new Error('the registry child ended before listening');
}

interface Push {
  repo: string;
  tag: string;
  manifest: Buffer;
  blobs: Map<Digest, Buffer>;
}

/** A push through HTTP: layers in 256 kB PATCH chunks, then config and manifest. Resolves once the manifest is acknowledged. */
async function push(url: string, i: number): Promise<Push> {
  const repo = `kill/app-${i % 4}`;
  const blobs = new Map<Digest, Buffer>();
  const layers = [];
  for (const size of [1 << 20, 600_000 + i]) {
    const data = randomBytes(size);
    let location = (await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' })).headers.get('location')!;
    for (let start = 0; start < size; start += 256 << 10) {
      const chunk = data.subarray(start, start + (256 << 10));
      const res = await fetch(`${url}${location}`, {
        method: 'PATCH',
        body: chunk,
        headers: { 'Content-Range': `${start}-${start + chunk.length - 1}` },
      });
      location = res.headers.get('location')!;
    }
    assert.equal((await fetch(`${url}${location}?digest=${digestOf(data)}`, { method: 'PUT' })).status, 201);
    blobs.set(digestOf(data), data);
    layers.push({ mediaType: MediaType.OciLayerGzip, digest: digestOf(data), size });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
      config: { Labels: { i: String(i) } },
    }),
  );
  assert.equal(
    (await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digestOf(config)}`, { method: 'POST', body: config }))
      .status,
    201,
  );
  blobs.set(digestOf(config), config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length },
      layers,
    }),
  );
  const res = await fetch(`${url}/v2/${repo}/manifests/v${i}`, {
    method: 'PUT',
    body: manifest,
    headers: { 'Content-Type': MediaType.OciManifest },
  });
  assert.equal(res.status, 201);
  return { repo, tag: `v${i}`, manifest, blobs };
}

describe('registry killed mid-push', () => {
  it('after SIGKILL during 20 concurrent pushes: completed pushes intact, nothing partial readable, an interrupted upload resumes', {
    timeout: 120_000,
  }, async () => {
    const first = await startServer();
    // An upload that has sent its first chunk before the kill.
    const early = randomBytes(500_000);
    const post = await fetch(`${first.url}/v2/kill/resume/blobs/uploads/`, { method: 'POST' });
    const location = post.headers.get('location')!;
    assert.equal(
      (
        await fetch(`${first.url}${location}`, {
          method: 'PATCH',
          body: early.subarray(0, 300_000),
          headers: { 'Content-Range': '0-299999' },
        })
      ).status,
      202,
    );

    const completed: Push[] = [];
    const pushes = Array.from({ length: 20 }, (_, i) =>
      push(first.url, i).then(
        (p) => {
          completed.push(p);
        },
        () => undefined,
      ),
    );
    // Kill once a few pushes have completed, with the others mid-way.
    while (completed.length < 3) await new Promise((r) => setTimeout(r, 5));
    first.child.kill('SIGKILL');
    await first.exited;
    await Promise.all(pushes);
    assert.ok(completed.length < 20, 'the kill interrupted some pushes');

    const second = await startServer();
    try {
      for (const image of completed) {
        const res = await fetch(`${second.url}/v2/${image.repo}/manifests/${image.tag}`);
        assert.equal(res.status, 200, `${image.repo}:${image.tag}`);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), image.manifest);
        for (const [digest, bytes] of image.blobs) {
          const blob = await fetch(`${second.url}/v2/${image.repo}/blobs/${digest}`);
          assert.deepEqual(Buffer.from(await blob.arrayBuffer()), bytes, digest);
        }
      }
      // Every blob in the store hashes to its name: no partial blob became visible.
      const store = await LocalStore.open(home);
      try {
        assert.deepEqual((await store.verify()).problems, []);
      } finally {
        await store.close();
      }
      const status = await fetch(`${second.url}${location}`);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), '0-299999');
      const rest = await fetch(`${second.url}${location}`, {
        method: 'PATCH',
        body: early.subarray(300_000),
        headers: { 'Content-Range': `300000-${early.length - 1}` },
      });
      assert.equal(rest.status, 202);
      assert.equal((await fetch(`${second.url}${location}?digest=${digestOf(early)}`, { method: 'PUT' })).status, 201);
    } finally {
      second.child.kill('SIGKILL');
      await second.exited;
    }
    // The interrupted sessions belonged to a dead process: GC cleans them up.
    const store = await LocalStore.open(home);
    try {
      await store.gc({ linkGraceMs: 60_000 });
      assert.deepEqual(await store.blobs.listIngests(), []);
      assert.deepEqual((await store.verify()).problems, []);
    } finally {
      await store.close();
    }
  });
});
