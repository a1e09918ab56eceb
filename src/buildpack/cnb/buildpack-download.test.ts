import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRetryable, SlipwayError } from '../../errors.js';
import { fetchBuildpackArchive, isBuildpackUrl } from './buildpack-download.js';

test('fetchBuildpackArchive: one request per URL, the blob by its sha256; a damaged blob is fetched again; errors name the URL', async () => {
  const root = mkdtempSync(join(tmpdir(), 'slipway-dl-'));
  const body = Buffer.from('pretend tarball bytes');
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url!);
    if (req.url === '/a.tgz') res.end(body);
    else if (req.url === '/loop') res.writeHead(301, { location: '/loop' }).end();
    else if (req.url === '/busy') res.writeHead(503).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const first = await fetchBuildpackArchive(`${base}/a.tgz`, root);
    const sha = createHash('sha256').update(body).digest('hex');
    assert.deepEqual(first, { file: join(root, 'blobs', sha), sha256: sha, downloaded: true });
    assert.deepEqual(await fetchBuildpackArchive(`${base}/a.tgz`, root), { ...first, downloaded: false });
    assert.deepEqual(hits, ['/a.tgz']);
    writeFileSync(first.file, 'tampered!!!!!!!!!!!!!');
    assert.equal(
      (await fetchBuildpackArchive(`${base}/a.tgz`, root)).downloaded,
      true,
      'a blob that no longer has its digest is fetched again',
    );
    assert.deepEqual(readFileSync(first.file), body);

    await assert.rejects(fetchBuildpackArchive(`${base}/loop`, root), /more than 5 redirects/);
    await assert.rejects(
      fetchBuildpackArchive(`${base}/busy`, root),
      (err: unknown) => err instanceof SlipwayError && /answered 503/.test(err.message) && isRetryable(err),
    );
    await assert.rejects(
      fetchBuildpackArchive(`${base}/gone.tgz`, root),
      (err: unknown) => err instanceof SlipwayError && err.code === 'NOT_FOUND',
    );
    await assert.rejects(
      fetchBuildpackArchive('ftp://example.com/x.tgz', root),
      /not an http\(s\):\/\/ or file:\/\/ URL/,
    );
    assert.deepEqual(await fetchBuildpackArchive(`file://${first.file}`, root), {
      file: first.file,
      downloaded: false,
    });
    assert.equal(
      isBuildpackUrl('https://x/y.tgz') &&
        isBuildpackUrl('file:///y') &&
        !isBuildpackUrl('./y.tgz') &&
        !isBuildpackUrl('docker://x'),
      true,
    );
  } finally {
    server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("https: a server whose CA is in the given bundle is trusted (added to Node's roots); otherwise the TLS error is the message", async () => {
  const root = mkdtempSync(join(tmpdir(), 'slipway-dl-tls-'));
  const key = join(root, 'key.pem');
  const cert = join(root, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) =>
    res.end('tls bytes'),
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/bp.tgz`;
  try {
    await assert.rejects(
      fetchBuildpackArchive(url, root, { caFile: join(root, 'missing.pem') }),
      (err: unknown) =>
        err instanceof SlipwayError &&
        err.code === 'IO_ERROR' &&
        /cannot download it: self.signed certificate/.test(err.message),
    );
    const got = await fetchBuildpackArchive(url, root, { caFile: cert });
    assert.equal(readFileSync(got.file, 'utf8'), 'tls bytes');
  } finally {
    server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
