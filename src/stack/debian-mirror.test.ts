import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isSlipwayError } from '../errors.js';
import { fetchSuiteRelease, packageNames, parseRelease } from './debian-mirror.js';

/** A tiny Debian mirror: one suite with a Packages.gz listed (with its sha256) in InRelease. */
describe('Debian mirror checks', () => {
  const packages = gzipSync('Package: hello\nVersion: 2.10-3\n\nPackage: mawk\nProvides: awk\nVersion: 1.3.4\n\n');
  let sha = createHash('sha256').update(packages).digest('hex');
  let inRelease = '';
  let server: Server;
  let mirror: string;
  let cache: string;
  let hits = 0;

  before(async () => {
    cache = await mkdtemp(join(tmpdir(), 'slipway-mirror-'));
    server = createServer((req, res) => {
      if (req.url === '/debian/dists/tiny/InRelease') return void res.end(inRelease);
      if (req.url === '/debian/dists/tiny/main/binary-amd64/Packages.gz') {
        hits++;
        return void res.end(packages);
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    mirror = `http://127.0.0.1:${(server.address() as { port: number }).port}/debian`;
    inRelease = `Origin: Tiny\nCodename: tiny\nVersion: 1\nDate: Sat, 01 Jan 2000 00:00:00 UTC\nSHA256:\n ${sha} ${packages.length} main/binary-amd64/Packages.gz\n`;
  });
  after(async () => {
    server.close();
    await rm(cache, { recursive: true, force: true });
  });

  it('reads the suite release and fingerprints it', async () => {
    const release = await fetchSuiteRelease(mirror, 'tiny');
    assert.equal(release.codename, 'tiny');
    assert.equal(release.fingerprint, createHash('sha256').update(inRelease).digest('hex'));
    assert.equal(release.files.get('main/binary-amd64/Packages.gz')?.sha256, sha);
  });

  it('says SUITE_UNKNOWN for a suite the mirror does not carry', async () => {
    await assert.rejects(
      fetchSuiteRelease(mirror, 'nosuch'),
      (e) => isSlipwayError(e, 'SUITE_UNKNOWN') && /"nosuch"/.test(e.message),
    );
  });

  it('says MIRROR_UNREACHABLE when nothing listens', async () => {
    await assert.rejects(
      fetchSuiteRelease('http://127.0.0.1:9/debian', 'bookworm'),
      (e) => isSlipwayError(e, 'MIRROR_UNREACHABLE') && /127\.0\.0\.1:9/.test(e.message),
    );
  });

  it('knows package and virtual package names, downloading the index once per mirror state', async () => {
    const release = await fetchSuiteRelease(mirror, 'tiny');
    const names = await packageNames(mirror, 'tiny', release, 'amd64', cache);
    assert.deepEqual([...names!].sort(), ['awk', 'hello', 'mawk']);
    const again = await packageNames(mirror, 'tiny', release, 'amd64', cache);
    assert.deepEqual(again, names);
    assert.equal(hits, 1);
  });

  it('refuses an index that does not match the InRelease hash', async () => {
    const release = parseRelease(
      Buffer.from(`Codename: tiny\nSHA256:\n ${'0'.repeat(64)} ${packages.length} main/binary-amd64/Packages.gz\n`),
    );
    await assert.rejects(
      packageNames(mirror, 'tiny', release, 'amd64', cache),
      (e) => isSlipwayError(e, 'MIRROR_UNREACHABLE') && /sha256/.test(e.message),
    );
    sha = '';
  });
});
