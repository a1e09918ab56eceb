/**
 * What the router costs a request, and which proxy mechanism it should be built on.
 *
 * A small node:http backend (a ~300-byte answer) is loaded by autocannon with 32
 * concurrent keep-alive connections, one request in flight on each: directly, through
 * each candidate mechanism of bench/router-candidates.ts (node:http + http.Agent,
 * http-proxy 1.18.1, undici 7 Pool.stream, undici 7 Pool.dispatch), through Slipway's
 * router as built (src/server/router: route lookup, round robin, X-Forwarded-*,
 * X-Vcap-Request-Id, retry), and through Debian's nginx (one worker, upstream keepalive)
 * as the peer tool when it is installed (`apt-get install -y nginx-light`). Backend, each proxy and nginx run in their own
 * processes; autocannon runs in this one. Contenders alternate within each run; the
 * table has the medians over runs and their ratio to direct.
 *
 *   node --import tsx bench/router-overhead.ts [--seconds 5] [--runs 5] [--connections 32]
 *     [--only node-http,http-proxy,undici-stream,undici-dispatch,slipway,nginx]
 *
 * Latency percentiles come from every response's time (0.01 ms buckets), not autocannon's
 * whole-millisecond histogram. "cpu us/req" is the proxy process's user+system CPU time
 * per request (from /proc), the figure that matters when the machine is shared. Start-up
 * does not count here (steady state only), so the sources run through tsx as they are.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import type { Instance } from '../src/platform/workload.js';
import { freePort } from '../src/store/free-port.js';
import { CANDIDATES, type CandidateName, serveCandidate } from './router-candidates.js';

const NO_METADATA = { labels: {}, annotations: {} };

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    candidate: { type: 'string' },
    target: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    only: { type: 'string' },
  },
});

const HOST = 'app.bench.test';
const BODY = Buffer.from(`${'{"message":"hello from the backend","padding":"'.padEnd(290, 'x')}"}\n`);

// ---- child roles: each prints {"port":N} once it listens ----

async function backend(): Promise<number> {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
      res.end(BODY);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function slipwayRouter(target: number): Promise<number> {
  const { RoutingTable } = await import('../src/platform/run/routing-table.js');
  const { startRouter } = await import('../src/server/router/router.js');
  const table = new RoutingTable();
  table.setRoutes([
    {
      route: {
        guid: 'r1',
        host: 'app',
        path: '',
        domainGuid: 'd1',
        spaceGuid: 's1',
        createdAt: '',
        updatedAt: '',
        metadata: NO_METADATA,
      },
      domain: { guid: 'd1', name: 'bench.test', internal: false, createdAt: '', updatedAt: '', metadata: NO_METADATA },
      destinations: [{ guid: 'x1', routeGuid: 'r1', appGuid: 'a1', processType: 'web', port: null, protocol: 'http1' }],
    },
  ]);
  const instance = {
    guid: 'i1',
    appGuid: 'a1',
    processGuid: 'p1',
    processType: 'web',
    index: 0,
    dropletGuid: 'dr1',
    host: 'bench',
    containerName: 'bench',
    port: target,
    state: 'RUNNING',
    since: '',
    crashCount: 0,
  } satisfies Instance;
  table.setInstances(new Map([['a1', [instance]]]));
  const router = await startRouter({ addr: '127.0.0.1:0', table });
  return router.port;
}

// ---- the parent ----

interface Contender {
  name: string;
  port: number;
  /** Processes whose CPU time is the proxy's (none for direct). */
  pids: number[];
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
  errors: number;
}

function child(args: string[]): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    createInterface({ input: proc.stdout! }).once('line', (line) => {
      resolve({ proc, port: (JSON.parse(line) as { port: number }).port });
    });
  });
}

async function startNginx(dir: string, target: number): Promise<{ proc: ChildProcess; port: number } | undefined> {
  let nginx: string | undefined;
  for (const b of ['/usr/sbin/nginx', '/usr/bin/nginx']) {
    if (await access(b).then(yes, no)) nginx = b;
  }
  if (!nginx) return undefined;
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:${target}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`,
  );
  const proc = spawn(nginx, ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`http://127.0.0.1:${port}/`).then(yes, no)) return { proc, port };
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill();
  throw new Error('nginx did not start');
}

const yes = () => true;
const no = () => false;

/** user+system clock ticks of a process and its children threads' process (nginx's worker). */
async function cpuTicks(pids: number[]): Promise<number> {
  let ticks = 0;
  const all = new Set(pids);
  for (const pid of pids) {
    const kids = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
    for (const k of kids.split(' ').filter(Boolean)) all.add(Number(k));
  }
  for (const pid of all) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks;
}

async function load(port: number, seconds: number, connections: number): Promise<Omit<Sample, 'cpuUsPerReq'>> {
  const buckets = new Uint32Array(100_001); // 0.01 ms up to 1 s
  let count = 0;
  const instance = autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections,
    duration: seconds,
    headers: { host: HOST },
  });
  (instance as unknown as import('node:events').EventEmitter).on(
    'response',
    (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status !== 200) return;
      buckets[Math.min(100_000, Math.round(ms * 100))]!++;
      count++;
    },
  );
  const result = await instance;
  const pct = (q: number) => {
    let seen = 0;
    for (let i = 0; i < buckets.length; i++) {
      seen += buckets[i]!;
      if (seen >= q * count) return i / 100;
    }
    return Number.NaN;
  };
  return {
    rps: result.requests.total / seconds,
    p50: pct(0.5),
    p99: pct(0.99),
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  const connections = Number(values.connections);
  const only = values.only?.split(',');
  const dir = await mkdtemp(join(tmpdir(), 'router-bench-'));
  const procs: ChildProcess[] = [];
  try {
    const be = await child(['--role', 'backend']);
    procs.push(be.proc);
    const contenders: Contender[] = [{ name: 'direct', port: be.port, pids: [] }];
    for (const c of CANDIDATES) {
      const p = await child(['--role', 'proxy', '--candidate', c, '--target', String(be.port)]);
      procs.push(p.proc);
      contenders.push({ name: c, port: p.port, pids: [p.proc.pid!] });
    }
    if (!only || only.includes('slipway')) {
      const sw = await child(['--role', 'slipway', '--target', String(be.port)]);
      procs.push(sw.proc);
      contenders.push({ name: 'slipway', port: sw.port, pids: [sw.proc.pid!] });
    }
    const ng = await startNginx(dir, be.port);
    if (ng) {
      procs.push(ng.proc);
      contenders.push({ name: 'nginx', port: ng.port, pids: [ng.proc.pid!] });
    } else console.error('nginx not installed (apt-get install -y nginx-light): left out');
    const chosen = contenders.filter((c) => !only || c.name === 'direct' || only.includes(c.name));

    console.error(`warming up ${chosen.length} contenders`);
    for (const c of chosen) await load(c.port, 1, connections);

    const samples = new Map<string, Sample[]>(chosen.map((c) => [c.name, []]));
    for (let run = 0; run < runs; run++) {
      // Rotate the order each run so no contender always follows the same one.
      const order = chosen.map((_, i) => chosen[(i + run) % chosen.length]!);
      for (const c of order) {
        const before = await cpuTicks(c.pids);
        const s = await load(c.port, seconds, connections);
        const ticks = (await cpuTicks(c.pids)) - before;
        const cpuUsPerReq = c.pids.length ? (ticks * 10_000) / (s.rps * seconds) : 0;
        samples.get(c.name)!.push({ ...s, cpuUsPerReq });
        console.error(
          `run ${run + 1} ${c.name.padEnd(16)} ${s.rps.toFixed(0).padStart(7)} rps  p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  errors ${s.errors}`,
        );
      }
    }

    const direct = median(samples.get('direct')!.map((s) => s.rps));
    const directP50 = median(samples.get('direct')!.map((s) => s.p50));
    console.log(
      `\n${connections} connections, ${seconds} s x ${runs} runs, medians (Node ${process.version}, ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')} load)\n`,
    );
    console.log('| contender | rps | p50 ms | p99 ms | rps vs direct | p50 vs direct | cpu us/req | errors |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const [name, ss] of samples) {
      const rps = median(ss.map((s) => s.rps));
      const p50 = median(ss.map((s) => s.p50));
      const p99 = median(ss.map((s) => s.p99));
      const cpu = median(ss.map((s) => s.cpuUsPerReq));
      const errors = ss.reduce((a, s) => a + s.errors, 0);
      console.log(
        `| ${name} | ${rps.toFixed(0)} | ${p50.toFixed(2)} | ${p99.toFixed(2)} | ${(rps / direct).toFixed(2)}x | ${(p50 / directP50).toFixed(2)}x | ${name === 'direct' ? '-' : cpu.toFixed(0)} | ${errors} |`,
      );
    }
  } finally {
    for (const p of procs) p.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

if (values.role) {
  const target = Number(values.target);
  const port =
    values.role === 'backend'
      ? await backend()
      : values.role === 'slipway'
        ? await slipwayRouter(target)
        : await serveCandidate(values.candidate as CandidateName, target);
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  // Lives until the parent kills it.
  setInterval(() => {}, 1 << 30);
} else {
  await main();
}
