import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { compareDebianVersions } from '../src/vuln/debian-version.js';

/**
 * The Debian version comparison against dpkg itself, on real versions: every version
 * of bookworm's and trixie's main amd64 Packages indexes (downloaded once from
 * deb.debian.org and kept under /var/cache/slipway/debian-indexes), paired within a
 * package (bookworm's against trixie's) and across packages (neighbours in name order,
 * and random pairs), plus each version against itself with a tilde or revision added.
 */
const CACHE = '/var/cache/slipway/debian-indexes';
const MIRROR = 'http://deb.debian.org/debian';

function packagesIndex(suite: string): Map<string, string> {
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `${suite}-main-amd64-Packages`);
  if (!existsSync(file)) {
    const xz = `${file}.xz.part`;
    execFileSync('curl', ['-fsSL', '--retry', '3', '-o', xz, `${MIRROR}/dists/${suite}/main/binary-amd64/Packages.xz`]);
    execFileSync('sh', ['-c', `xz -dc "$1" > "$2.part" && rm -f "$1"`, 'sh', xz, file]);
    renameSync(`${file}.part`, file);
  }
  const versions = new Map<string, string>();
  let name = '';
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('Package: ')) name = line.slice(9).trim();
    else if (line.startsWith('Version: ')) versions.set(name, line.slice(9).trim());
  }
  return versions;
}

/** dpkg's verdict on each pair: -1, 0 or 1, from one shell running dpkg --compare-versions per pair. */
function dpkgVerdicts(pairs: [string, string][]): number[] {
  const script =
    'while IFS=" " read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo -1; elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done';
  const r = spawnSync('sh', ['-c', script], {
    input: pairs.map(([a, b]) => `${a} ${b}`).join('\n') + '\n',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').map(Number);
}

test('Debian version comparison agrees with dpkg --compare-versions on real versions from the archive', async () => {
  const bookworm = packagesIndex('bookworm');
  const trixie = packagesIndex('trixie');
  assert.ok(bookworm.size > 50_000 && trixie.size > 50_000, 'both indexes list tens of thousands of packages');
  const pairs: [string, string][] = [];
  // Same package, two releases: epochs, revisions, +debNuM, ~ backports.
  const common = [...bookworm.keys()].filter((n) => trixie.has(n) && trixie.get(n) !== bookworm.get(n)).sort();
  const step = Math.max(1, Math.floor(common.length / 3000));
  for (let i = 0; i < common.length; i += step) pairs.push([bookworm.get(common[i]!)!, trixie.get(common[i]!)!]);
  // Across packages: name-order neighbours and a fixed pseudo-random sample.
  const all = [...new Set([...bookworm.values(), ...trixie.values()])].sort();
  for (let i = 0; i + 1 < all.length && pairs.length < 5000; i += Math.floor(all.length / 1500))
    pairs.push([all[i]!, all[i + 1]!]);
  let seed = 20;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let k = 0; k < 1500; k++)
    pairs.push([all[Math.floor(rand() * all.length)]!, all[Math.floor(rand() * all.length)]!]);
  // Near misses: a tilde pre-release, an added revision, the same version.
  for (let k = 0; k < 500; k++) {
    const v = all[Math.floor(rand() * all.length)]!;
    pairs.push([v, `${v}~1`], [`${v}+b1`, v], [v, v]);
  }
  assert.ok(pairs.length >= 5000, `${pairs.length} pairs`);
  const verdicts = dpkgVerdicts(pairs);
  assert.equal(verdicts.length, pairs.length);
  const disagreements = pairs
    .map(([a, b], i) => ({ a, b, dpkg: verdicts[i], ours: Math.sign(compareDebianVersions(a, b)) }))
    .filter((p) => p.dpkg !== p.ours);
  assert.deepEqual(disagreements.slice(0, 10), [], `${disagreements.length} of ${pairs.length} pairs disagree`);
  // Both directions hold: the comparison is antisymmetric on the same pairs.
  for (const [a, b] of pairs.slice(0, 2000))
    assert.equal(Math.sign(compareDebianVersions(b, a)), -Math.sign(compareDebianVersions(a, b)));
});

test('Debian version comparison: the rules of Debian policy 5.6.12', () => {
  const lt = (a: string, b: string) => assert.ok(compareDebianVersions(a, b) < 0, `${a} < ${b}`);
  lt('1.0~rc1', '1.0'); // tilde before the end
  lt('1.0~~', '1.0~');
  lt('1.0', '1.0a'); // the end before letters
  lt('1.0a', '1.0+'); // letters before non-letters
  lt('2.0', '1:0.1'); // epochs first
  lt('1.2-1', '1.2-1+deb12u1');
  lt('1.9', '1.10'); // digits as numbers
  assert.equal(compareDebianVersions('1.01', '1.1'), 0);
  assert.equal(compareDebianVersions('0:1.0', '1.0'), 0);
});
