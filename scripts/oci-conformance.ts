/**
 * Runs the OCI distribution-spec conformance suite (opencontainers/distribution-spec,
 * conformance/) against Slipway: one embedded `slipway registry serve` (SQLite and the
 * filesystem), and two `slipway serve` nodes on one PostgreSQL database and one S3
 * bucket (Ceph RGW) behind HAProxy, each node reached through the balancer. On demand,
 * not in CI: the suite is Go and lives on GitHub, which CI cannot reach.
 *
 *   node --import tsx scripts/oci-conformance.ts --suite /path/to/conformance.test [--only embedded|pair] [--all-options]
 *
 * Build the suite once (README, "OCI conformance"). Each run writes the suite's
 * report (results.yaml, report.html, junit.xml) under --results (default
 * /var/tmp/slipway-conformance/<target>) and prints its summary; the exit status is
 * non-zero when a target fails. --all-options turns on the suite's optional checks
 * (upload cancel, tag parameters, sparse manifests).
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSlipwayRegistry, tempDir } from '../test/helpers.js';
import { PlatformClient } from '../test/platform-world.js';
import { startScaleOutBackends } from '../test/scale-out-backends.js';
import { startNodes } from '../test/scale-out-world.js';

const { values } = parseArgs({
  options: {
    suite: { type: 'string' },
    only: { type: 'string' },
    results: { type: 'string', default: '/var/tmp/slipway-conformance' },
    'all-options': { type: 'boolean', default: false },
  },
});
if (!values.suite) {
  process.stderr.write('give --suite PATH: the conformance test binary (README, "OCI conformance")\n');
  process.exit(2);
}
const suite = values.suite;

/** Runs the suite against `registry` (host:port); its summary, and whether it passed. */
async function runSuite(target: string, env: Record<string, string>): Promise<boolean> {
  const results = join(values.results, target);
  await rm(results, { recursive: true, force: true });
  await mkdir(results, { recursive: true });
  const optional = values['all-options']
    ? { OCI_API_BLOBS_UPLOAD_CANCEL: 'true', OCI_API_MANIFESTS_TAG_PARAM: 'true', OCI_DATA_SPARSE: 'true' }
    : {};
  const child = spawn(suite, [], {
    cwd: results,
    env: { ...process.env, OCI_TLS: 'disabled', OCI_LOG: 'warn', OCI_RESULTS_DIR: results, ...optional, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  await writeFile(join(results, 'output.txt'), out);
  const summary = /OCI Conformance Result: [\s\S]*?Total\.*:\s+\d+/.exec(out)?.[0] ?? out.slice(-2000);
  const failed = out
    .split('\n')
    .filter((l) => /: FAIL$/.test(l) && !/^\s*OCI Conformance Test: FAIL/.test(l))
    .slice(0, 40);
  process.stdout.write(`\n== ${target} (exit ${code}; report in ${results})\n${summary}\n`);
  if (failed.length) process.stdout.write(`failing:\n${[...new Set(failed)].join('\n')}\n`);
  return code === 0;
}

const work = await tempDir('slipway-conformance');
let ok = true;
try {
  if (values.only !== 'pair') {
    const registry = await startSlipwayRegistry(join(work.path, 'embedded'), ['--gc-interval', '0']);
    try {
      ok = (await runSuite('embedded', { OCI_REGISTRY: new URL(registry.url).host })) && ok;
    } finally {
      await registry.stop();
    }
  }
  if (values.only !== 'embedded') {
    const backends = await startScaleOutBackends('conformance');
    const password = 'conformance-admin-pw';
    const passwordFile = join(work.path, 'admin-password');
    await writeFile(passwordFile, password, { mode: 0o600 });
    const cluster = await startNodes(join(work.path, 'pair'), 2, passwordFile, backends.env);
    try {
      // The platform's registry names are ORG/SPACE/APP and its permissions CF's roles: the suite pushes as the admin into two apps.
      const lb = new PlatformClient(cluster.lb.url);
      const auth = await lb.login('admin', password);
      const space = await lb.createSpace(auth, await lb.createOrg(auth, 'conformance'), 'oci');
      await lb.createApp(auth, space, 'repo1');
      await lb.createApp(auth, space, 'repo2');
      ok =
        (await runSuite('pair-behind-haproxy', {
          OCI_REGISTRY: cluster.lb.host,
          OCI_USERNAME: 'admin',
          OCI_PASSWORD: password,
          OCI_REPO1: 'conformance/oci/repo1',
          OCI_REPO2: 'conformance/oci/repo2',
        })) && ok;
    } finally {
      await cluster.stop();
      await backends.stop();
    }
  }
} finally {
  await work.cleanup();
}
process.exit(ok ? 0 : 1);
