import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  addRandomImage,
  commandExists,
  run,
  sha256File,
  slipwayOk,
  startSlipwayRegistry,
  tempDir,
  type GeneratedImage,
  type RegistryProcess,
} from './helpers.js';

/**
 * 50 pushes at once into one running `slipway registry serve` (20 by skopeo, 30 by
 * fetch through the socket with every upload method), sharing layers and
 * repositories; every image then pulls back byte-identical. A digest that does not
 * match its bytes is refused and leaves nothing behind.
 */

const MB = 1_000_000;
const SKOPEO_PUSHES = 20;
const FETCH_PUSHES = 30;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

type Method = 'monolithic' | 'post-put' | 'chunked' | 'streamed';
const METHODS: Method[] = ['monolithic', 'post-put', 'chunked', 'streamed'];

/** Pushes one blob with one of the spec's upload methods; asserts the 201 and its digest. */
async function pushBlob(base: string, repo: string, digest: string, bytes: Buffer, method: Method): Promise<void> {
  const octets = { 'Content-Type': 'application/octet-stream' };
  const at = (location: string) => new URL(location, base);
  let res: Response;
  if (method === 'monolithic') {
    res = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: bytes,
      headers: octets,
    });
  } else {
    const head = await fetch(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
    if (head.status === 200) return; // As clients do: a blob already in the repository is not sent again.
    const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    // A blob another repository holds may be mounted at once (201).
    if (start.status === 201) return;
    assert.equal(start.status, 202, `POST upload in ${repo}`);
    let location = start.headers.get('location')!;
    if (method === 'chunked' || method === 'streamed') {
      const step = Math.ceil(bytes.length / 3);
      for (let from = 0; from < bytes.length; from += step) {
        const chunk = bytes.subarray(from, from + step);
        const headers: Record<string, string> =
          method === 'chunked' ? { ...octets, 'Content-Range': `${from}-${from + chunk.length - 1}` } : octets;
        const patch = await fetch(at(location), { method: 'PATCH', body: chunk, headers });
        assert.equal(patch.status, 202, `PATCH ${repo}: ${await patch.text()}`);
        location = patch.headers.get('location')!;
      }
      res = await fetch(at(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`), { method: 'PUT' });
    } else {
      res = await fetch(at(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`), {
        method: 'PUT',
        body: bytes,
        headers: octets,
      });
    }
  }
  assert.equal(res.status, 201, `${method} upload of ${digest} to ${repo}: ${await res.text()}`);
  assert.equal(res.headers.get('docker-content-digest'), digest);
}

/** Pushes a generated image's blobs (in parallel, as clients do) then its manifest, by fetch. */
async function fetchPush(
  base: string,
  layout: string,
  image: GeneratedImage,
  repo: string,
  tag: string,
  method: Method,
): Promise<void> {
  const manifest = JSON.parse(image.manifest.toString()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  const blobs = [manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
  await Promise.all(
    blobs.map(async (digest) =>
      pushBlob(base, repo, digest, await readFile(join(layout, 'blobs/sha256', digest.slice(7))), method),
    ),
  );
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: image.manifest,
    headers: { 'Content-Type': OCI_MANIFEST },
  });
  assert.equal(res.status, 201, `manifest PUT ${repo}:${tag}: ${await res.text()}`);
  assert.equal(res.headers.get('docker-content-digest'), image.digest);
}

async function storeBlobs(home: string): Promise<string[]> {
  return (await readdir(join(home, 'blobs/sha256'))).sort();
}

describe('50 concurrent pushes sharing layers, and digests that lie', {
  skip: !process.env.CI && !commandExists('skopeo') && 'skopeo is not installed',
}, () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let layout: string;
  let server: RegistryProcess;
  const pushed: { image: GeneratedImage; repo: string; tag: string; by: string }[] = [];

  before(async () => {
    work = await tempDir('registry-concurrency');
    home = join(work.path, 'home');
    layout = join(work.path, 'layout');
    for (let i = 0; i < SKOPEO_PUSHES + FETCH_PUSHES; i++) {
      const image = await addRandomImage(layout, `img${i}`, [
        { seed: 'conc-base', size: 4 * MB },
        { seed: `conc-mid-${i % 5}`, size: 2 * MB },
        { seed: `conc-own-${i}`, size: MB / 2 + i * 1000 },
      ]);
      // Ten repositories, five tags in each, pushed at the same time.
      const by = i < SKOPEO_PUSHES ? 'skopeo' : METHODS[i % METHODS.length]!;
      pushed.push({ image, repo: `conc/app-${i % 10}`, tag: `t${i}`, by });
    }
    server = await startSlipwayRegistry(home);
  });
  after(async () => {
    await server?.stop();
    await work.cleanup();
  });

  test('all 50 pushes succeed at once (20 skopeo, 30 fetch with every upload method)', async () => {
    const results = await Promise.allSettled(
      pushed.map((p) =>
        p.by === 'skopeo'
          ? run('skopeo', [
              '--insecure-policy',
              'copy',
              '--quiet',
              '--dest-tls-verify=false',
              `oci:${layout}:${p.image.tag}`,
              `docker://${server.host}/${p.repo}:${p.tag}`,
            ])
          : fetchPush(server.url, layout, p.image, p.repo, p.tag, p.by as Method),
      ),
    );
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected'
        ? [`${pushed[i]!.by} ${pushed[i]!.repo}:${pushed[i]!.tag}: ${(r.reason as Error).message}`]
        : [],
    );
    assert.deepEqual(failed, []);
  });

  test('every image pulls back byte-identical: manifest bytes, digest header, every blob', async () => {
    for (const p of pushed) {
      const res = await fetch(`${server.url}/v2/${p.repo}/manifests/${p.tag}`, { headers: { Accept: OCI_MANIFEST } });
      assert.equal(res.status, 200, `${p.repo}:${p.tag}`);
      assert.equal(res.headers.get('docker-content-digest'), p.image.digest);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), p.image.manifest, `${p.repo}:${p.tag} manifest bytes`);
      const manifest = JSON.parse(p.image.manifest.toString()) as {
        config: { digest: string };
        layers: { digest: string }[];
      };
      for (const digest of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
        const blob = await fetch(`${server.url}/v2/${p.repo}/blobs/${digest}`);
        assert.equal(blob.status, 200, `${p.repo} blob ${digest}`);
        assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), digest);
      }
    }
    const tags = (await (await fetch(`${server.url}/v2/conc/app-3/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags.sort(), ['t13', 't23', 't3', 't33', 't43']);
  });

  test('skopeo pulls a sample back into layouts with the same digests', async () => {
    const sample = pushed.filter((_, i) => i % 7 === 0);
    await Promise.all(
      sample.map(async (p) => {
        const out = join(work.path, `pulled-${p.tag}`);
        await run('skopeo', [
          '--insecure-policy',
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          `docker://${server.host}/${p.repo}:${p.tag}`,
          `oci:${out}:x`,
        ]);
        assert.equal(JSON.parse(await readFile(join(out, 'index.json'), 'utf8')).manifests[0].digest, p.image.digest);
        for (const layer of p.image.layers)
          assert.equal(await sha256File(join(out, 'blobs/sha256', layer.digest.slice(7))), layer.digest);
      }),
    );
  });

  test('shared layers are stored once, and the store verifies clean', async () => {
    const unique = new Set(
      pushed.flatMap((p) => [
        p.image.digest,
        ...p.image.layers.map((l) => l.digest),
        JSON.parse(p.image.manifest.toString()).config.digest,
      ]),
    );
    assert.deepEqual(await storeBlobs(home), [...unique].map((d) => d.slice(7)).sort());
    assert.deepEqual(JSON.parse(await slipwayOk(home, ['--json', 'verify'])).problems, []);
  });

  test('a digest that does not match the bytes is refused (POST+PUT, monolithic, chunked) and nothing is stored', async () => {
    const before = await storeBlobs(home);
    const ingestBefore = await readdir(join(home, 'ingest'));
    const bytes = Buffer.from('these bytes are not what the digest says\n'.repeat(1000));
    const real = sha256(bytes);
    const lie = sha256(Buffer.from('something else'));
    const repo = 'conc/liar';
    const octets = { 'Content-Type': 'application/octet-stream' };

    const start = await fetch(`${server.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const put = await fetch(new URL(`${start.headers.get('location')}?digest=${lie}`, server.url), {
      method: 'PUT',
      body: bytes,
      headers: octets,
    });
    assert.equal(put.status, 400);
    assert.equal(((await put.json()) as { errors: { code: string }[] }).errors[0]!.code, 'DIGEST_INVALID');

    const whole = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${lie}`, {
      method: 'POST',
      body: bytes,
      headers: octets,
    });
    assert.equal(whole.status, 400);
    assert.equal(((await whole.json()) as { errors: { code: string }[] }).errors[0]!.code, 'DIGEST_INVALID');

    const chunkedStart = await fetch(`${server.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const patch = await fetch(new URL(chunkedStart.headers.get('location')!, server.url), {
      method: 'PATCH',
      body: bytes,
      headers: { ...octets, 'Content-Range': `0-${bytes.length - 1}` },
    });
    assert.equal(patch.status, 202);
    const close = await fetch(new URL(`${patch.headers.get('location')}?digest=${lie}`, server.url), { method: 'PUT' });
    assert.equal(close.status, 400);

    // A manifest PUT by a digest its bytes do not have.
    const manifest = pushed[0]!.image.manifest;
    const wrongRef = await fetch(`${server.url}/v2/conc/app-0/manifests/${lie}`, {
      method: 'PUT',
      body: manifest,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    assert.equal(wrongRef.status, 400);
    assert.equal(((await wrongRef.json()) as { errors: { code: string }[] }).errors[0]!.code, 'DIGEST_INVALID');

    for (const digest of [real, lie]) {
      assert.equal(
        (await fetch(`${server.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).status,
        404,
        `${digest} in ${repo}`,
      );
    }
    assert.equal(
      (
        await fetch(`${server.url}/v2/conc/app-0/manifests/${lie}`, {
          method: 'HEAD',
          headers: { Accept: OCI_MANIFEST },
        })
      ).status,
      404,
    );
    assert.deepEqual(await storeBlobs(home), before, 'no blob file was added');
    // Refused uploads leave no data behind either (a session kept for a retry holds nothing visible).
    const ingestAfter = await readdir(join(home, 'ingest'));
    for (const id of ingestAfter.filter((i) => !ingestBefore.includes(i))) {
      const data = await readFile(join(home, 'ingest', id, 'data')).catch(() => Buffer.alloc(0));
      assert.notEqual(sha256(data), lie);
    }
    assert.deepEqual(JSON.parse(await slipwayOk(home, ['--json', 'verify'])).problems, []);
  });
});
