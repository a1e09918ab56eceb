import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import { freePort } from './free-port.js';

/**
 * Test support: a single-node Ceph cluster with the RADOS Gateway, from Debian's
 * packages (ceph-mon, ceph-mgr, ceph-osd, radosgw 16.2), made in a temp dir: one
 * monitor, one manager, one OSD on memstore (in RAM: the tests check semantics, not
 * disks), cephx off, and an S3 user. About 30 s to start on this machine. A real S3
 * implementation: it enforces the 5 MiB part minimum, ETags, AbortMultipartUpload,
 * ListMultipartUploads and S3's error codes, which s3rver does not.
 *
 * @example
 * const rgw = await startCephRgw();
 * // rgw.endpoint, rgw.accessKey, rgw.secretKey
 * rgw.stop();
 */
export interface CephRgw {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  stop(): void;
}

const DAEMONS = ['ceph-mon', 'ceph-mgr', 'ceph-osd', 'radosgw', 'monmaptool', 'radosgw-admin', 'ceph'];

export function cephAvailable(): boolean {
  return DAEMONS.every((d) => existsSync(`/usr/bin/${d}`));
}

export async function startCephRgw(): Promise<CephRgw> {
  // A daemon that lost a race at start (a port another process took meanwhile, another
  // cluster's mon answering on it): again, afresh, on new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce();
    } catch (err) {
      if (attempt >= 3) throw err;
      process.stderr.write(`test Ceph cluster, start ${attempt} of 3 failed: ${(err as Error).message}\n`);
    }
  }
}

async function startOnce(): Promise<CephRgw> {
  if (!cephAvailable())
    throw new SlipwayError('TOOL_MISSING', 'Ceph is not installed: run `bash scripts/install.sh --test`', {
      detail: { needs: DAEMONS },
    });
  const dir = await mkdtemp(join(tmpdir(), 'slipway-ceph-'));
  // A loopback address of this cluster's own (all of 127/8 is lo's): another cluster on the host
  // (another test run, or one's daemons left over) cannot reach its mon, nor it theirs.
  const host = `127.${100 + randomInt(100)}.${randomInt(256)}.${1 + randomInt(254)}`;
  const [monPort, rgwPort] = [await freePort(host), await freePort(host)];
  const fsid = randomUUID();
  // Below the ephemeral ports (32768 and up), where freePort finds the mon's and radosgw's.
  const portBase = 20_000 + Math.floor(Math.random() * 127) * 100;
  const conf = join(dir, 'ceph.conf');
  for (const d of ['run', 'mon.a', 'osd.0', 'mgr.x']) mkdirSync(join(dir, d));
  writeFileSync(
    conf,
    [
      '[global]',
      `fsid = ${fsid}`,
      // v1 spelled out: a bare IP:PORT other than 6789 is taken for msgr2, which this mon does not speak.
      `mon host = v1:${host}:${monPort}`,
      `public addr = ${host}`,
      `cluster addr = ${host}`,
      'ms bind msgr2 = false',
      // Daemons' own ports from a range of this cluster's: two clusters started side by side
      // (two test runs) would otherwise share 6800-7300, and one's daemons reach the other's.
      `ms bind port min = ${portBase}`,
      `ms bind port max = ${portBase + 99}`,
      'mon initial members = a',
      'auth cluster required = none',
      'auth service required = none',
      'auth client required = none',
      'osd pool default size = 1',
      'osd pool default min size = 1',
      'mon allow pool size one = true',
      'osd objectstore = memstore',
      // An OSD's first commands at start (its device class, its crush location) can go out
      // before its MonClient has the mon's monmap, under a zero fsid, and the mon refuses them
      // ('wrong fsid': the OSD exits). The OSD is placed in the crush map before it starts instead.
      'osd class update on start = false',
      'osd crush update on start = false',
      'memstore device bytes = 6442450944',
      `run dir = ${dir}/run`,
      `log file = ${dir}/$name.log`,
      `admin socket = ${dir}/run/$name.asok`,
      `pid file = ${dir}/run/$name.pid`,
      '[mon.a]',
      `mon data = ${dir}/mon.a`,
      '[osd.0]',
      `osd data = ${dir}/osd.0`,
      '[mgr.x]',
      `mgr data = ${dir}/mgr.x`,
      '[client.rgw]',
      `rgw frontends = beast endpoint=${host}:${rgwPort}`,
      '',
    ].join('\n'),
  );
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, ['-c', conf, ...args], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0)
      throw new SlipwayError('TOOL_FAILED', `${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout || r.error}`, {
        detail: { dir },
      });
    return r.stdout;
  };
  const stop = () => {
    for (const d of ['radosgw', 'ceph-osd', 'ceph-mgr', 'ceph-mon'])
      spawnSync('pkill', ['-KILL', '-f', `${d} -c ${conf}`]);
    // Gone before this returns: a next cluster must not meet this one's daemons on a reused port.
    for (let i = 0; i < 100 && spawnSync('pgrep', ['-f', conf]).status === 0; i++) spawnSync('sleep', ['0.05']);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    execFileSync(
      'monmaptool',
      ['--create', '--addv', 'a', `[v1:${host}:${monPort}]`, '--fsid', fsid, join(dir, 'monmap')],
      {
        stdio: 'ignore',
      },
    );
    run('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')]);
    run('ceph-mon', ['-i', 'a']);
    // The OSD's uuid named on both sides: one the mkfs made up could differ from the one the mon registered.
    const osdUuid = randomUUID();
    run('ceph', ['osd', 'create', osdUuid]);
    run('ceph', ['osd', 'crush', 'add', 'osd.0', '1', 'root=default', 'host=slipway-test']);
    run('ceph-osd', ['-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    run('ceph-osd', ['-i', '0']);
    run('ceph-mgr', ['-i', 'x']);
    // radosgw keeps its standard streams when it daemonizes: run it in the foreground, detached, with none.
    spawn('radosgw', ['-c', conf, '-f', '-n', 'client.rgw'], { detached: true, stdio: 'ignore' }).unref();
    const accessKey = 'SLIPWAYTESTKEY';
    const secretKey = 'slipway-test-secret';
    run('radosgw-admin', [
      'user',
      'create',
      '--uid=slipway',
      '--display-name=slipway',
      `--access-key=${accessKey}`,
      `--secret=${secretKey}`,
    ]);
    const endpoint = `http://${host}:${rgwPort}`;
    for (let i = 0; ; i++) {
      const ok = await fetch(`${endpoint}/`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 600) {
        const log = spawnSync('tail', ['-5', join(dir, 'client.rgw.log')], { encoding: 'utf8' }).stdout;
        throw new SlipwayError('TOOL_FAILED', `radosgw did not answer on ${endpoint} within 60 s:\n${log}`, {
          detail: { dir },
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { endpoint, accessKey, secretKey, stop };
  } catch (err) {
    // What the mon said of it (a command refused, an election), before stop() removes the logs.
    const monLog = spawnSync('tail', ['-20', join(dir, 'mon.a.log')], { encoding: 'utf8' }).stdout;
    stop();
    if (err instanceof SlipwayError && monLog) err.message += `\nthe mon's last log lines:\n${monLog}`;
    throw err;
  }
}
