import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdvisoryRow } from './advisory.js';
import { affects } from './ranges.js';

const osv = (
  ecosystem: 'npm' | 'deb',
  type: string,
  events: Record<string, string>[],
  versions?: string[],
): AdvisoryRow => ({
  id: 'GHSA-x',
  cve: 'CVE-1',
  ecosystem,
  package: 'p',
  release: '',
  status: 'affected',
  severity: 'high',
  ranges: [{ type, events }],
  ...(versions ? { versions } : {}),
});

test('OSV SEMVER ranges: introduced, fixed, last_affected, several intervals', () => {
  const r = osv('npm', 'SEMVER', [{ introduced: '0' }, { fixed: '4.17.21' }]);
  assert.deepEqual(affects(r, '4.17.20'), { affected: true, fixed: '4.17.21' });
  assert.deepEqual(affects(r, '4.17.21'), { affected: false });
  const two = osv('npm', 'SEMVER', [
    { introduced: '1.0.0' },
    { fixed: '1.2.0' },
    { introduced: '2.0.0' },
    { fixed: '2.0.3' },
  ]);
  assert.equal(affects(two, '0.9.0').affected, false);
  assert.deepEqual(affects(two, '1.1.9'), { affected: true, fixed: '1.2.0' });
  assert.equal(affects(two, '1.5.0').affected, false);
  assert.deepEqual(affects(two, '2.0.2'), { affected: true, fixed: '2.0.3' });
  const last = osv('npm', 'SEMVER', [{ introduced: '0' }, { last_affected: '3.1.0' }]);
  assert.deepEqual(affects(last, '3.1.0'), { affected: true });
  assert.equal(affects(last, '3.1.1').affected, false);
  // Pre-releases order before their release.
  assert.equal(affects(r, '4.17.21-rc.1').affected, true);
});

test('OSV ECOSYSTEM ranges use the ecosystem order (Debian) and the versions list; GIT ranges are not versions', () => {
  const deb = osv('deb', 'ECOSYSTEM', [{ introduced: '0' }, { fixed: '1:2.0-1' }]);
  assert.equal(affects(deb, '2.5-1').affected, true, 'no epoch is before epoch 1');
  assert.equal(affects(deb, '1:2.0~rc1-1').affected, true);
  assert.equal(affects(deb, '1:2.0-1').affected, false);
  const listed = osv('npm', 'GIT', [{ introduced: 'abc' }, { fixed: 'def' }], ['1.0.0']);
  assert.deepEqual(affects(listed, '1.0.0'), { affected: true });
  assert.equal(affects(listed, '1.0.1').affected, false);
});

test('Debian tracker rows: fixed, open, not affected', () => {
  const row = (status: AdvisoryRow['status'], fixed?: string): AdvisoryRow => ({
    id: 'CVE-1',
    cve: 'CVE-1',
    ecosystem: 'deb',
    package: 'openssl',
    release: 'bookworm',
    status,
    severity: 'high',
    ...(fixed ? { fixed } : {}),
  });
  assert.deepEqual(affects(row('affected', '3.0.15-1~deb12u1'), '3.0.14-1~deb12u2'), {
    affected: true,
    fixed: '3.0.15-1~deb12u1',
  });
  assert.equal(affects(row('affected', '3.0.15-1~deb12u1'), '3.0.15-1~deb12u1').affected, false);
  assert.deepEqual(affects(row('open'), '3.0.15-1'), { affected: true });
  assert.equal(affects(row('not-affected'), '1.0').affected, false);
});
