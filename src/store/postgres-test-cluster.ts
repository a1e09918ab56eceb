import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SlipwayError } from '../errors.js';
import { freePort } from './free-port.js';

/**
 * Test support: a throwaway PostgreSQL cluster (Debian's postgresql 15, installed by
 * `scripts/install.sh --test`) made with initdb in a temp dir and started with pg_ctl
 * on a free port of 127.0.0.1, as the postgres user when run as root. fsync is off:
 * the tests check semantics, not durability, and the CPU is shared.
 *
 * @example
 * const cluster = await startPostgres();
 * const url = await cluster.createDatabase();   // an empty database per test
 * await cluster.stop();
 */
export interface PostgresCluster {
  readonly port: number;
  /** A URL for database `name` (trust authentication, user postgres). */
  url(name?: string): string;
  /** Creates a new empty database and returns its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
  /** Stops it synchronously (from a process 'exit' handler). */
  stopNow(): void;
}

const BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'];

export async function startPostgres(): Promise<PostgresCluster> {
  const bin = BIN_DIRS.find((dir) => existsSync(join(dir, 'initdb')));
  if (bin === undefined) {
    throw new SlipwayError('TOOL_MISSING', 'PostgreSQL is not installed: run `bash scripts/install.sh --test`', {
      detail: { looked: BIN_DIRS },
    });
  }
  const dir = await mkdtemp(join(tmpdir(), 'slipway-pg-'));
  const asRoot = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
  const run = (tool: string, args: string[]): void => {
    const cmd = asRoot ? 'runuser' : join(bin, tool);
    const argv = asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
    const r = spawnSync(cmd, argv, { encoding: 'utf8' });
    if (r.status !== 0) {
      throw new SlipwayError('TOOL_FAILED', `${tool} failed: ${r.stderr || r.stdout || r.error}`, {
        detail: { tool, args, status: r.status },
      });
    }
  };
  if (asRoot) await chown(dir, uid('postgres'), gid('postgres'));
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '60', 'start']);
  let n = 0;
  const url = (name = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${name}`;
  return {
    port,
    url,
    async createDatabase() {
      const name = `t${process.pid}_${++n}`;
      const admin = new pg.Client({ connectionString: url() });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    async stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    stopNow() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function uid(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

function gid(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}
