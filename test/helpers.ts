import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, link, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../src/store/free-port.js';

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const exec = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the slipway CLI from source with SLIPWAY_HOME=home; `input` is written to its stdin.
 * With SLIPWAY_TEST_CLI=built (scripts/test.sh, after `npm run build`) bin/slipway.js runs the
 * bundle instead, as published: it wins over SLIPWAY_FROM_SOURCE, for every test that spawns the CLI.
 */
export function slipway(home: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // "--" as the shebang passes it: node must not read slipway's --env-file as its own.
    const child = spawn(process.execPath, ['--', join(ROOT, 'bin/slipway.js'), ...args], {
      env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home, ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    child.stdin?.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Like slipway() but fails the test with stderr when the command fails. */
export async function slipwayOk(
  home: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input?: string,
): Promise<string> {
  const r = await slipway(home, args, env, input);
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
    args: [
      '--runtime',
      'runc',
      '--root',
      join(dir, 'storage'),
      '--runroot',
      join(dir, 'run'),
      '--storage-driver',
      'vfs',
    ],
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
      else if (st.isFile())
        out[p] = {
          type: 'file',
          mode,
          content: createHash('sha256')
            .update(await readFile(join(dir, p)))
            .digest('hex'),
        };
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
  await run('mmdebstrap', ['--quiet', '--variant=minbase', 'bookworm', `${cache}.tmp`], {
    SOURCE_DATE_EPOCH: '1700000000',
  });
  await run('mv', [`${cache}.tmp`, cache]);
  return cache;
}

// ---------------------------------------------------------------------------
// Registry servers and generated images (registry interop, crash, concurrency
// tests and bench/registry.ts).

export { freePort };

export interface RegistryProcess {
  /** e.g. http://127.0.0.1:5000 */
  url: string;
  /** host:port, for image references (`${host}/team/app:v1`). */
  host: string;
  pid: number;
  stderr: () => string;
  /** SIGTERM, then the exit code. */
  stop: () => Promise<number | null>;
  /** SIGKILL, then resolves once the process is gone. */
  kill: () => Promise<void>;
}

/**
 * Starts `slipway registry serve --addr 127.0.0.1:0 ARGS` with SLIPWAY_HOME=home and
 * waits for the URL it prints: from source, or the compiled CLI `entry` (benchmarks).
 */
export function startSlipwayRegistry(
  home: string,
  args: string[] = [],
  options: { entry?: string } = {},
): Promise<RegistryProcess> {
  const entry = options.entry ?? join(ROOT, 'bin/slipway.js');
  const child = spawn(process.execPath, [entry, '--json', 'registry', 'serve', '--addr', '127.0.0.1:0', ...args], {
    env: { ...process.env, SLIPWAY_HOME: home, ...(options.entry ? {} : { SLIPWAY_FROM_SOURCE: '1' }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      let url: string;
      try {
        url = (JSON.parse(stdout) as { url: string }).url;
      } catch {
        return; // Not the whole JSON document yet.
      }
      resolve({
        url,
        host: new URL(url).host,
        pid: child.pid!,
        stderr: () => stderr,
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
        kill: async () => {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
    void exited.then((code) => reject(new Error(`slipway registry serve exited (${code}) before serving:\n${stderr}`)));
  });
}

/**
 * Starts CNCF Distribution (Debian's `docker-registry`, 2.8) on a free loopback port
 * with filesystem storage under `dir`, deletes enabled, and `extraConfig` lines (an
 * `auth:` section) appended; resolves once /v2/ answers (401 counts).
 */
export async function startDistribution(dir: string, extraConfig: string[] = []): Promise<RegistryProcess> {
  await mkdir(join(dir, 'data'), { recursive: true });
  const port = await freePort();
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...extraConfig,
      '',
    ].join('\n'),
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exitCode = code))));
  child.once('error', () => undefined);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (exitCode !== undefined) throw new Error(`docker-registry exited (${exitCode}) before serving:\n${stderr}`);
    const ok = await fetch(`${url}/v2/`).then(
      (r) => r.ok || r.status === 401,
      () => false,
    );
    if (ok) break;
    if (i > 200) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not answer on ${url} within 10 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    pid: child.pid!,
    stderr: () => stderr,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** sha256 of a file, streamed, as `sha256:<hex>`. */
export async function sha256File(path: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const { createReadStream } = await import('node:fs');
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Deterministic incompressible bytes: AES-128-CTR keystream keyed by `seed`, `size`
 * bytes, as a stream (about 1-2 GB/s, so tests and benches make layers quickly).
 */
export async function randomStream(seed: string, size: number): Promise<import('node:stream').Readable> {
  const { createCipheriv, createHash } = await import('node:crypto');
  const { Readable } = await import('node:stream');
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

export interface GeneratedLayer {
  /** Compressed digest (the blob's name) and size. */
  digest: string;
  size: number;
  diffId: string;
}

/**
 * Writes one layer blob into an OCI layout's blobs/sha256: a tar holding one file of
 * `size` random bytes from `seed`, as gzip with stored (uncompressed) deflate blocks:
 * valid gzip that clients will not recompress, as big as the data, and made at disk
 * speed. The same seed and size give the same digest; an existing blob is reused via
 * a note in `<layout>/notes`.
 */
export async function writeRandomLayer(layout: string, seed: string, size: number): Promise<GeneratedLayer> {
  const { createCipheriv, createHash, randomUUID } = await import('node:crypto');
  const { open, readFile, rename } = await import('node:fs/promises');
  const { crc32 } = await import('node:zlib');
  const safe = seed.replace(/[^A-Za-z0-9._-]/g, '_');
  const note = join(layout, 'notes', `${safe}-${size}.layer.json`);
  const known = await readFile(note, 'utf8').then(
    (t) => JSON.parse(t) as GeneratedLayer,
    () => undefined,
  );
  if (known && existsSync(join(layout, 'blobs/sha256', known.digest.slice(7)))) return known;
  await mkdir(join(layout, 'blobs/sha256'), { recursive: true });
  await mkdir(dirname(note), { recursive: true });

  const tmp = join(layout, 'blobs/sha256', `.tmp-${randomUUID()}`);
  const out = await open(tmp, 'w');
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  let blobSize = 0;
  let crc = 0;
  let tarSize = 0;
  const emit = async (bytes: Buffer) => {
    blob.update(bytes);
    blobSize += bytes.length;
    await out.write(bytes);
  };
  // Tar bytes go through here: hashed for the diffID, wrapped in stored deflate blocks.
  const tarChunk = async (bytes: Buffer) => {
    diff.update(bytes);
    crc = crc32(bytes, crc);
    tarSize += bytes.length;
    const parts: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 65535) {
      const piece = bytes.subarray(at, at + 65535);
      const head = Buffer.alloc(5);
      head.writeUInt16LE(piece.length, 1);
      head.writeUInt16LE(piece.length ^ 0xffff, 3);
      parts.push(head, piece);
    }
    await emit(Buffer.concat(parts));
  };
  try {
    await emit(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
    await tarChunk(tarHeader(`data/${safe}.bin`, size));
    const key = createHash('sha256').update(seed).digest().subarray(0, 16);
    const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
    const zeros = Buffer.alloc(1 << 20);
    for (let left = size; left > 0; left -= zeros.length)
      await tarChunk(cipher.update(zeros.subarray(0, Math.min(left, zeros.length))));
    await tarChunk(Buffer.alloc(((512 - (size % 512)) % 512) + 1024));
    const trailer = Buffer.alloc(13);
    trailer[0] = 1; // the final block: empty, stored
    trailer.writeUInt16LE(0xffff, 3);
    trailer.writeUInt32LE(crc >>> 0, 5);
    trailer.writeUInt32LE(tarSize % 2 ** 32, 9);
    await emit(trailer);
  } finally {
    await out.close();
  }
  const layer: GeneratedLayer = {
    digest: `sha256:${blob.digest('hex')}`,
    size: blobSize,
    diffId: `sha256:${diff.digest('hex')}`,
  };
  await rename(tmp, join(layout, 'blobs/sha256', layer.digest.slice(7)));
  await writeFile(note, JSON.stringify(layer));
  return layer;
}

/** A ustar header for one regular file (mode 0644, root, mtime 1980-01-01T00:00:01Z). */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const field = (value: string, at: number, len: number) => h.write(value, at, len, 'ascii');
  const octal = (n: number, at: number, len: number) => field(`${n.toString(8).padStart(len - 1, '0')}\0`, at, len);
  field(name, 0, 100);
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(315532801, 136, 12);
  field('        ', 148, 8);
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

export interface GeneratedImage {
  tag: string;
  /** Manifest digest, size and exact bytes. */
  digest: string;
  size: number;
  manifest: Buffer;
  layers: GeneratedLayer[];
}

/**
 * Adds an image to an OCI layout (creating the layout): one layer per `{ seed, size }`
 * (see writeRandomLayer), an OCI config naming their diffIDs, an OCI manifest, and an
 * index.json entry named `tag` (replacing an entry of that name). Images that share
 * a seed share that layer's blob.
 */
export async function addRandomImage(
  layout: string,
  tag: string,
  layers: { seed: string; size: number }[],
  platform = { os: 'linux', architecture: 'amd64' },
): Promise<GeneratedImage> {
  const { createHash } = await import('node:crypto');
  const { readFile } = await import('node:fs/promises');
  const written: GeneratedLayer[] = [];
  for (const l of layers) written.push(await writeRandomLayer(layout, l.seed, l.size));
  const put = async (bytes: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await writeFile(join(layout, 'blobs/sha256', digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  const config = await put(
    Buffer.from(
      JSON.stringify({
        ...platform,
        created: '1980-01-01T00:00:01Z',
        config: { Env: [`IMAGE=${tag}`] },
        rootfs: { type: 'layers', diff_ids: written.map((l) => l.diffId) },
      }),
    ),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: written.map((l) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: l.digest,
        size: l.size,
      })),
    }),
  );
  const m = await put(manifest);
  await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const indexPath = join(layout, 'index.json');
  const index = await readFile(indexPath, 'utf8').then(
    (t) => JSON.parse(t) as { manifests: { annotations?: Record<string, string> }[] },
    () => ({ schemaVersion: 2, manifests: [] }),
  );
  index.manifests = index.manifests.filter((d) => d.annotations?.['org.opencontainers.image.ref.name'] !== tag);
  index.manifests.push({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...m,
    annotations: { 'org.opencontainers.image.ref.name': tag },
  } as never);
  // Written whole each time: callers add images one at a time (not concurrently).
  await writeFile(`${indexPath}.tmp`, JSON.stringify(index));
  const { rename } = await import('node:fs/promises');
  await rename(`${indexPath}.tmp`, indexPath);
  return { tag, digest: m.digest, size: m.size, manifest, layers: written };
}
