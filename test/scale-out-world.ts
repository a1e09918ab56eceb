import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './helpers.js';
import { startServe, type ServeProcess } from './platform-world.js';

/**
 * TEST SUPPORT for the scale-out tests (test/scale-out*.test.ts, bench/scale-out.ts):
 * several `slipway serve` nodes, each with a home of its own (scratch only), sharing
 * one PostgreSQL database and one blob store, behind HAProxy (Debian's haproxy 2.6)
 * as a production layout puts them behind a load balancer.
 */

export interface LoadBalancer {
  /** http://127.0.0.1:PORT */
  url: string;
  host: string;
  /** What haproxy said (servers going down and up, with the reason). */
  log: () => string;
  stop(): Promise<void>;
}

/**
 * HAProxy on `port`, round robin over `backends` (host:port), each checked on
 * /healthz every 300 ms: a node that stops answering is out after three failed checks,
 * and a request its connection refused is sent to another node (`option redispatch`).
 */
export async function startHaproxy(dir: string, port: number, backends: string[]): Promise<LoadBalancer> {
  await mkdir(dir, { recursive: true });
  const config = join(dir, 'haproxy.cfg');
  await writeFile(
    config,
    [
      'global',
      '  maxconn 1024',
      'defaults',
      '  mode http',
      '  timeout connect 1s',
      '  timeout client 120s',
      '  timeout server 120s',
      // A busy node (a password hash, a GC pass) may take a while to answer its check.
      '  timeout check 3s',
      '  retries 3',
      '  option redispatch',
      'frontend registry',
      `  bind 127.0.0.1:${port}`,
      '  default_backend nodes',
      'backend nodes',
      '  balance roundrobin',
      '  option httpchk',
      // HTTP/1.1 with a Host: a request without one is a 400 to the node, and the node would count as down.
      '  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost',
      '  http-check expect status 200',
      '  default-server inter 300ms fall 3 rise 1',
      ...backends.map((b, i) => `  server node${i} ${b} check`),
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true,
    () => `haproxy did not serve ${url}:\n${stderr}`,
  );
  return {
    url,
    host: `127.0.0.1:${port}`,
    log: () => stderr,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface ScaleOutNodes {
  lb: LoadBalancer;
  nodes: ServeProcess[];
  /** Each node's home (scratch, and a copy of the worker secret for operators to hand out). */
  homes: string[];
  stop(): Promise<void>;
}

/**
 * `count` serve nodes (API and registry only: `--no-run`) on the shared back-ends in
 * `env` (SLIPWAY_DATABASE, SLIPWAY_BLOBS), their public URL the load balancer's.
 */
export async function startNodes(
  dir: string,
  count: number,
  passwordFile: string,
  env: NodeJS.ProcessEnv,
  args: string[] = [],
): Promise<ScaleOutNodes> {
  const lbPort = await freePort();
  const nodes: ServeProcess[] = [];
  const homes: string[] = [];
  for (let i = 0; i < count; i++) {
    const home = join(dir, `node${i}`);
    await mkdir(home, { recursive: true });
    homes.push(home);
    // One at a time: the first applies the migrations and makes the admin; the others find them.
    nodes.push(
      await startServe(home, passwordFile, ['--no-run', '--public-url', `http://127.0.0.1:${lbPort}`, ...args], env),
    );
  }
  const lb = await startHaproxy(
    join(dir, 'lb'),
    lbPort,
    nodes.map((n) => n.host),
  );
  return {
    lb,
    nodes,
    homes,
    stop: async () => {
      await lb.stop();
      await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    },
  };
}

/** Polls `ready` every 50 ms for up to 20 s; an error it throws ends the wait. */
export async function waitFor(ready: () => Promise<boolean>, why: () => string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await ready()) return;
    if (Date.now() > until) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A child process's exit code, once it has exited. */
export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}
