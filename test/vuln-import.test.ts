import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yazl from 'yazl';
import { importAdvisories } from '../src/vuln/import.js';
import { vulnDbStatus } from '../src/vuln/status.js';
import { VulnDb } from '../src/vuln/vuln-db.js';
import { tempDir } from './helpers.js';

/** vulndb import: an OSV zip (npm and Debian records), incremental updates, the tracker replacing itself. */
let home: { path: string; cleanup: () => Promise<void> };
before(async () => {
  home = await tempDir('vuln-import');
});
after(async () => home?.cleanup());

const record = (id: string, ecosystem: string, name: string, fixed: string, modified: string) => ({
  id,
  modified,
  aliases: [`CVE-${id.slice(-4)}`],
  affected: [
    { package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }] },
  ],
});

async function zipOf(file: string, records: object[]): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const r of records) zip.addBuffer(Buffer.from(JSON.stringify(r)), `${(r as { id: string }).id}.json`);
  zip.end();
  await new Promise<void>((resolve, reject) =>
    zip.outputStream.pipe(createWriteStream(file)).on('close', resolve).on('error', reject),
  );
}

test('an OSV zip imports npm and Debian records; a changed record is rewritten alone; the tracker replaces what it said', async () => {
  const zip = join(home.path, 'all.zip');
  await zipOf(zip, [
    record('GHSA-0001', 'npm', 'qs', '6.10.3', '2099-01-01T00:00:00Z'),
    record('DSA-0002', 'Debian:12', 'openssl', '3.0.15-1~deb12u1', '2099-01-01T00:00:00Z'),
  ]);
  const first = await importAdvisories(home.path, zip);
  assert.deepEqual([first.kind, first.records, first.added, first.changed], ['osv', 2, 2, 0]);
  const db = VulnDb.open(home.path);
  assert.deepEqual(
    db.advisoriesFor('deb', 'openssl').map((r) => [r.cve, r.release]),
    [['CVE-0002', 'bookworm']],
  );
  assert.deepEqual(
    db.advisoriesById('CVE-0001').map((r) => r.id),
    ['GHSA-0001'],
  );
  db.close();
  assert.equal((await importAdvisories(home.path, zip)).unchanged, true);
  await zipOf(zip, [
    record('GHSA-0001', 'npm', 'qs', '6.10.4', '2099-02-01T00:00:00Z'),
    record('DSA-0002', 'Debian:12', 'openssl', '3.0.15-1~deb12u1', '2099-01-01T00:00:00Z'),
  ]);
  const second = await importAdvisories(home.path, zip);
  assert.deepEqual([second.added, second.changed, second.removed, second.total], [0, 1, 0, 2]);

  const tracker = join(home.path, 'tracker.json');
  const entry = (fixed: string) => ({
    'CVE-2099-1': { releases: { bookworm: { status: 'resolved', fixed_version: fixed, urgency: 'low' } } },
  });
  await writeFile(tracker, JSON.stringify({ zlib: entry('1:1.2.13'), curl: entry('7.88.1-10+deb12u5') }));
  assert.equal((await importAdvisories(home.path, tracker)).added, 2);
  await writeFile(tracker, JSON.stringify({ zlib: entry('1:1.2.13') }));
  const replaced = await importAdvisories(home.path, tracker);
  assert.deepEqual([replaced.added, replaced.changed, replaced.removed, replaced.total], [0, 0, 1, 1]);
  const status = vulnDbStatus(home.path);
  assert.deepEqual(
    status.sources.map((s) => [s.name, s.kind, s.advisories]),
    [
      ['debian-tracker', 'debian-tracker', 1],
      ['osv:all.zip', 'osv', 2],
    ],
  );
  await writeFile(join(home.path, 'bad.json'), '{"nope":');
  await assert.rejects(importAdvisories(home.path, join(home.path, 'bad.json')), /neither JSON nor a zip/);
});
