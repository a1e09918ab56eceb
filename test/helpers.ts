import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, link, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const exec = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the slipway CLI from source with SLIPWAY_HOME=home. */
export function slipway(home: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/slipway.js'), ...args], {
      env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Like slipway() but fails the test with stderr when the command fails. */
export async function slipwayOk(home: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await slipway(home, args, env);
  if (r.code !== 0) throw new Error(`slipway ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

/** Runs a tool and returns stdout; the error carries stderr. */
export async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

export async function tempDir(prefix = 'slipway-test'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/**
 * A small root filesystem with every kind of entry a layer must carry: nested dirs,
 * an executable, a symlink, a hardlink, a long name, an empty dir, a setuid file.
 */
export async function makeFixtureTree(dir: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'etc/app'), { recursive: true });
  await mkdir(join(dir, 'var/empty'), { recursive: true });
  await writeFile(join(dir, 'bin/hello'), '#!/bin/sh\necho hello from slipway\n');
  await chmod(join(dir, 'bin/hello'), 0o755);
  await writeFile(join(dir, 'etc/app/config.toml'), 'name = "demo"\n'.repeat(100));
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  await symlink('../etc/app/config.toml', join(dir, 'bin/config-link'));
  await link(join(dir, 'bin/hello'), join(dir, 'bin/hello-hardlink'));
  const long = join(dir, 'a'.repeat(60), 'b'.repeat(60));
  await mkdir(long, { recursive: true });
  await writeFile(join(long, `${'c'.repeat(120)}.txt`), 'long name\n');
  await writeFile(join(dir, 'bin/setuid'), 'x');
  await chmod(join(dir, 'bin/setuid'), 0o4755);
  await writeFile(join(dir, 'big.bin'), Buffer.alloc(3 << 20, 7));
}

export function commandExists(cmd: string): boolean {
  return ['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin'].some((d) => existsSync(join(d, cmd)));
}

/** podman settings that work on these machines: runc, no default ulimits, a private store. */
export async function podmanEnv(dir: string): Promise<{ args: string[]; env: NodeJS.ProcessEnv }> {
  await mkdir(dir, { recursive: true });
  const conf = join(dir, 'containers.conf');
  await writeFile(conf, '[containers]\ndefault_ulimits = []\n');
  return {
    args: ['--runtime', 'runc', '--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs'],
    env: { CONTAINERS_CONF: conf },
  };
}

export interface TreeNode {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  content?: string;
  target?: string;
}

/** A comparable picture of a tree: each path's type, permission bits, content hash, link target. */
export async function treeSnapshot(dir: string): Promise<Record<string, TreeNode>> {
  const { readdir, lstat, readFile, readlink } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  const out: Record<string, TreeNode> = {};
  const walk = async (rel: string) => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(dir, p));
      const mode = st.mode & 0o7777;
      if (st.isDirectory()) {
        out[p] = { type: 'dir', mode };
        await walk(p);
      } else if (st.isSymbolicLink()) out[p] = { type: 'symlink', mode: 0, target: await readlink(join(dir, p)) };
      else if (st.isFile()) out[p] = { type: 'file', mode, content: createHash('sha256').update(await readFile(join(dir, p))).digest('hex') };
      else out[p] = { type: 'other', mode };
    }
  };
  await walk('');
  return out;
}

/**
 * A real Debian bookworm minbase root filesystem made by mmdebstrap, built once and
 * cached between test runs (about 15 s to build).
 */
export async function debianRootfs(): Promise<string> {
  const cache = process.env.SLIPWAY_TEST_ROOTFS ?? '/var/cache/slipway/test-rootfs-bookworm-minbase';
  if (existsSync(join(cache, 'etc/os-release'))) return cache;
  await rm(`${cache}.tmp`, { recursive: true, force: true });
  await mkdir(dirname(cache), { recursive: true });
  await run('mmdebstrap', ['--quiet', '--variant=minbase', 'bookworm', `${cache}.tmp`], { SOURCE_DATE_EPOCH: '1700000000' });
  await run('mv', [`${cache}.tmp`, cache]);
  return cache;
}
