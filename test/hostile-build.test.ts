import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { networkInterfaces } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { LocalStore } from '../src/index.js';
import { verifyStore } from '../src/store/verify.js';
import { LIMIT_EXIT_CODES, LimitExceeded } from '../src/sandbox/limits.js';
import { stageClassic } from '../src/stage/classic/stage-classic.js';
import { stageFullFs } from '../src/stage/classic/full-fs-stage.js';
import { buildStore, scratchDirs, stageApp } from './build-fixtures.js';

/**
 * Builds that attack the host (issue 15): every buildpack here is hostile. A canary
 * directory on the host holds a random secret; a canary path must never be created;
 * an HTTP server on the host's loopback must never be reached. After each build: the
 * secret is in no output, error or blob of the store, the canary path does not exist,
 * the server saw nothing, the store verifies, and the error names what was refused.
 */
describe('hostile builds never reach the host', () => {
  let store: LocalStore;
  let cleanup: () => Promise<void>;
  let work: string;
  const { app, bps, fresh } = scratchDirs(() => work);
  const secret = `slipway-canary-${randomBytes(12).toString('hex')}`;
  let canary: string;
  let forbidden: string;
  let server: Server;
  let port: number;
  const requests: string[] = [];

  before(async () => {
    ({ store, work, cleanup } = await buildStore());
    canary = `/tmp/slipway-canary-${randomBytes(6).toString('hex')}`;
    mkdirSync(canary);
    writeFileSync(join(canary, 'secret'), `${secret}\n`);
    forbidden = join(canary, 'must-not-exist');
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.end('host service');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.close();
    rmSync(canary, { recursive: true, force: true });
    await cleanup();
  });

  /** What must hold after every hostile build, whatever it did. */
  async function assertHostUntouched(texts: string[]): Promise<void> {
    for (const t of texts) assert.ok(!t.includes(secret), `the host's secret leaked:\n${t.slice(0, 2000)}`);
    for (const hex of readdirSync(join(store.home, 'blobs', 'sha256'))) {
      let bytes = readFileSync(join(store.home, 'blobs', 'sha256', hex));
      if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
      assert.ok(!bytes.includes(secret), `the host's secret is in blob sha256:${hex}`);
    }
    assert.equal(existsSync(forbidden), false, 'the build created a host path');
    assert.deepEqual(requests, [], 'the build reached the host loopback server');
    const report = await verifyStore(store.blobs, store.meta);
    assert.deepEqual(report.problems, [], 'the store verifies');
  }

  /** Stages `build` (a bin/build body) and returns the error it failed with, or undefined, plus the output. */
  async function hostile(
    build: string,
    options: Parameters<typeof stageApp>[3] = {},
    toml = '',
  ): Promise<{ error: Error | undefined; output: string }> {
    let output = '';
    let error: Error | undefined;
    try {
      await stageApp(store, app(), `hostile/b${randomBytes(3).toString('hex')}`, {
        buildpacks: bps([{ id: 'evil/bp', build, toml }]),
        output: (t) => (output += t),
        ...options,
      });
    } catch (err) {
      error = err as Error;
    }
    await assertHostUntouched([
      output,
      error?.message ?? '',
      JSON.stringify((error as { detail?: unknown } | undefined)?.detail ?? {}),
    ]);
    return { error, output };
  }

  test("the control and output dirs are the host's: planted job and output links go nowhere", async () => {
    const r = await hostile(`
      for n in 00000 00001 00002 00003 00004 00005; do
        ln -sf ${forbidden} /slipway/$n.job 2>&1 || true
        ln -sf ${canary}/secret /slipway/out/$n.out 2>&1 || true
        echo "* * * * * root id" > /slipway/$n.job 2>&1 || true
      done
      ls -la /slipway/out/ | head -3
      touch /slipway/out/new 2>&1 || true`);
    assert.equal(r.error, undefined, r.error?.message);
    assert.match(r.output, /Read-only file system|Permission denied/);
  });

  test('a layer that is a symlink to a host directory is refused, naming it', async () => {
    const r = await hostile(
      `ln -s ${canary} "$CNB_LAYERS_DIR/x"; printf '[types]\\nlaunch = true\\n' > "$CNB_LAYERS_DIR/x.toml"`,
    );
    assert.ok(r.error);
    assert.equal((r.error as { code?: string }).code, 'UNSAFE_PATH');
    assert.match(r.error.message, /evil_bp\/x.*symlink/);
  });

  test('tomls, SBOMs and env dirs that are links are refused or ignored, never read', async () => {
    for (const plant of [
      `ln -s ${canary}/secret "$CNB_LAYERS_DIR/launch.toml"`,
      `ln -s ${canary}/secret "$CNB_LAYERS_DIR/store.toml"`,
      `ln -s ${canary}/secret "$CNB_LAYERS_DIR/build.toml"`,
      `ln -s ${canary}/secret "$CNB_LAYERS_DIR/l.toml"; mkdir "$CNB_LAYERS_DIR/l"`,
      `mkdir "$CNB_LAYERS_DIR/l"; printf '[types]\\nbuild = true\\n' > "$CNB_LAYERS_DIR/l.toml"; ln -s ${canary} "$CNB_LAYERS_DIR/l/env"`,
      `ln -s ${canary}/secret "$CNB_LAYERS_DIR/launch.sbom.cdx.json"`,
    ]) {
      const r = await hostile(plant, {}, 'sbom-formats = ["application/vnd.cyclonedx+json"]');
      assert.ok(r.error, `refused: ${plant}`);
      assert.equal((r.error as { code?: string }).code, 'UNSAFE_PATH', `${plant}: ${r.error.message}`);
      assert.match(r.error.message, /symlink/);
    }
    // A link among env files is no env file: skipped, its target never read.
    const r = await hostile(
      `mkdir -p "$CNB_LAYERS_DIR/l/env"; printf '[types]\\nbuild = true\\n' > "$CNB_LAYERS_DIR/l.toml"; ln -s ${canary}/secret "$CNB_LAYERS_DIR/l/env/LEAK"`,
    );
    assert.equal(r.error, undefined);
  });

  test("host loopback, the host's addresses and private networks are unreachable; --network none has no route at all", async () => {
    const probe = (host: string) =>
      `if timeout 5 bash -c 'exec 3<>/dev/tcp/${host}/${port}; printf "GET /%s HTTP/1.0\\r\\n\\r\\n" ${host} >&3; cat <&3' 2>/dev/null; then echo "REACHED ${host}"; else echo "refused ${host}"; fi`;
    const hosts = ['127.0.0.1', '10.0.2.2', '169.254.169.254', '10.0.0.1', '192.168.1.1', ...hostAddresses()];
    const r = await hostile(hosts.map(probe).join('\n'));
    assert.equal(r.error, undefined, r.error?.message);
    for (const h of hosts) assert.match(r.output, new RegExp(`refused ${h.replaceAll('.', '\\.')}`));
    assert.doesNotMatch(r.output, /REACHED/);
    const none = await hostile('ip route 2>/dev/null || cat /proc/net/route; cat /proc/net/dev | grep -c : ', {
      network: 'none',
    });
    assert.equal(none.error, undefined);
    assert.doesNotMatch(none.output, /tap0/, 'no interface but loopback');
  });

  test('no capabilities, NoNewPrivs, seccomp in CNB builds; mount and unshare are refused', async () => {
    const r = await hostile(
      `grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; unshare -U true 2>&1 || echo unshare-refused; mount -t tmpfs none /tmp 2>&1 || echo mount-refused`,
    );
    assert.equal(r.error, undefined, r.error?.message);
    assert.match(r.output, /CapEff:\s+0000000000000000/);
    assert.match(r.output, /CapBnd:\s+0000000000000000/);
    assert.match(r.output, /NoNewPrivs:\s+1/);
    assert.match(r.output, /Seccomp:\s+2/);
    assert.match(r.output, /unshare-refused/);
    assert.match(r.output, /mount-refused/);
  });

  test('a fork bomb stops at the process limit with exit 54', async () => {
    const t0 = Date.now();
    const r = await hostile('f() { f | f & }; f; sleep 60', { limits: { pids: 64 } });
    assert.ok(r.error instanceof LimitExceeded, r.error?.message);
    assert.equal((r.error as LimitExceeded).exitCode, LIMIT_EXIT_CODES.pids);
    assert.match(r.error.message, /64 processes.*--pids-limit/);
    assert.ok(Date.now() - t0 < 30_000, 'stopped promptly');
  });

  test('a 2 GB memory hog stops at the memory limit with exit 53', async () => {
    const r = await hostile('head -c 2000000000 /dev/zero | tail > /dev/null', { limits: { memoryBytes: 256 << 20 } });
    assert.ok(r.error instanceof LimitExceeded, r.error?.message);
    assert.equal((r.error as LimitExceeded).exitCode, LIMIT_EXIT_CODES.memory);
    assert.match(r.error.message, /256 MiB.*--memory/);
  });

  test("writing past the disk limit stops with exit 55; the host's store is untouched", async () => {
    const r = await hostile(
      'dd if=/dev/urandom of=/workspace/big bs=1M count=400 status=none; dd if=/dev/urandom of=/tmp/big bs=1M count=400 status=none; sleep 30',
      { limits: { diskBytes: 128 << 20 } },
    );
    assert.ok(r.error instanceof LimitExceeded, r.error?.message);
    assert.equal((r.error as LimitExceeded).exitCode, LIMIT_EXIT_CODES.disk);
    assert.match(r.error.message, /128 MiB.*--disk-limit/);
  });

  test('a build longer than its time limit stops with exit 52', async () => {
    const t0 = Date.now();
    const r = await hostile('sleep 120', { limits: { timeoutMs: 3000 } });
    assert.ok(r.error instanceof LimitExceeded, r.error?.message);
    assert.equal((r.error as LimitExceeded).exitCode, LIMIT_EXIT_CODES.timeout);
    assert.ok(Date.now() - t0 < 20_000);
  });

  test('classic staging: a Procfile, launch.yml or config.yml that links to a host file is never read', async () => {
    const bp = fresh('classic-bp');
    mkdirSync(join(bp, 'bin'), { recursive: true });
    writeFileSync(
      join(bp, 'bin', 'supply'),
      `#!/bin/sh\nln -s ${canary}/secret "$3/$4/launch.yml"; ln -s ${canary}/secret "$3/$4/config.yml"\n`,
      { mode: 0o755 },
    );
    writeFileSync(
      join(bp, 'bin', 'finalize'),
      `#!/bin/sh\nln -sf ${canary}/secret "$1/Procfile"; ln -s ${forbidden} "$3/$4/planted"\n`,
      { mode: 0o755 },
    );
    let error: Error | undefined;
    let output = '';
    try {
      await stageClassic(store, {
        path: app(),
        image: 'hostile/classic',
        buildpacks: [bp],
        output: (t) => (output += t),
      });
    } catch (err) {
      error = err as Error;
    }
    await assertHostUntouched([output, error?.message ?? '']);
    assert.ok(error, 'refused');
    assert.equal((error as { code?: string }).code, 'UNSAFE_PATH');
  });

  test("full-filesystem staging: root with only apt's capabilities (no CAP_NET_RAW); a Procfile linking to a host file is not read", async () => {
    const bp = fresh('fullfs-bp');
    mkdirSync(join(bp, 'bin'), { recursive: true });
    writeFileSync(
      join(bp, 'bin', 'compile'),
      `#!/bin/sh\ngrep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status\nid -u\nln -sf ${canary}/secret "$1/Procfile"\n`,
      { mode: 0o755 },
    );
    let error: Error | undefined;
    let output = '';
    try {
      await stageFullFs(store, { path: app(), image: 'hostile/fullfs', buildpack: bp, output: (t) => (output += t) });
    } catch (err) {
      error = err as Error;
    }
    await assertHostUntouched([output, error?.message ?? '']);
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID = bits 0 1 3 4 5 6 7 = 0xfb; NET_RAW (13) is not there.
    assert.match(output, /CapEff:\s+00000000000000fb/);
    assert.match(output, /NoNewPrivs:\s+1/);
    assert.ok(error, 'the linked Procfile is refused');
    assert.equal((error as { code?: string }).code, 'UNSAFE_PATH');
  });
});

/** This host's own IPv4 addresses (not loopback): a build must not reach them either. */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === 'IPv4' && !i.internal)
    .map((i) => i!.address);
}
