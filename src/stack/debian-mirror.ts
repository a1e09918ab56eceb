import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SlipwayError } from '../errors.js';
import { hostPlatform } from '../oci/platform.js';

/**
 * What Slipway asks a Debian mirror directly, before mmdebstrap runs: the suite's
 * InRelease (its hash identifies the mirror state, so an identical stack is never
 * bootstrapped twice; a 404 means an unknown suite) and the package index (to name
 * every package that does not exist in seconds, not after half a minute of bootstrap).
 */

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
const TIMEOUT_MS = 30_000;

/** The mirror used when none is given: $SLIPWAY_DEBIAN_MIRROR, else deb.debian.org. */
export function defaultMirror(env: NodeJS.ProcessEnv = process.env): string {
  return env['SLIPWAY_DEBIAN_MIRROR'] || DEFAULT_MIRROR;
}

/** Debian's name for this machine's architecture (what mmdebstrap builds by default). */
export function debianArch(): string {
  const p = hostPlatform();
  const map: Record<string, string> = {
    amd64: 'amd64',
    arm64: 'arm64',
    '386': 'i386',
    ppc64le: 'ppc64el',
    s390x: 's390x',
    riscv64: 'riscv64',
    mips64le: 'mips64el',
  };
  if (p.architecture === 'arm') return p.variant === 'v7' ? 'armhf' : 'armel';
  return map[p.architecture] ?? p.architecture;
}

export interface SuiteRelease {
  /** sha256 of the InRelease (or Release) bytes: changes whenever any index of the suite changes. */
  fingerprint: string;
  codename?: string;
  version?: string;
  date?: string;
  /** sha256 and size of index files by path under dists/SUITE/. */
  files: Map<string, { sha256: string; size: number }>;
}

/** Fetches dists/SUITE/InRelease (or Release). Throws SUITE_UNKNOWN or MIRROR_UNREACHABLE. */
export async function fetchSuiteRelease(mirror: string, suite: string): Promise<SuiteRelease> {
  for (const name of ['InRelease', 'Release']) {
    const url = `${mirror}/dists/${suite}/${name}`;
    const res = await get(url, mirror);
    if (res.status === 404) {
      await res.body?.cancel();
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw unreachable(mirror, `${url} answered ${res.status} ${res.statusText}`);
    }
    const bytes = Buffer.from(await res.arrayBuffer());
    return parseRelease(bytes);
  }
  throw new SlipwayError(
    'SUITE_UNKNOWN',
    `Debian suite "${suite}" does not exist on ${mirror} (no dists/${suite}/InRelease): use a suite the mirror carries, such as bookworm or trixie, or another --mirror`,
    {
      detail: { suite, mirror },
    },
  );
}

/** Parses a Release/InRelease file (a PGP-clearsigned InRelease is read through its signature). */
export function parseRelease(bytes: Buffer): SuiteRelease {
  const text = bytes.toString('utf8');
  const release: SuiteRelease = { fingerprint: createHash('sha256').update(bytes).digest('hex'), files: new Map() };
  let section = '';
  for (const line of text.split('\n')) {
    if (line.startsWith(' ')) {
      if (section !== 'SHA256') continue;
      const [sha256, size, path] = line.trim().split(/\s+/);
      if (sha256 && size && path) release.files.set(path, { sha256, size: Number(size) });
      continue;
    }
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    section = m[1]!;
    if (section === 'Codename') release.codename = m[2]!;
    else if (section === 'Version') release.version = m[2]!;
    else if (section === 'Date') release.date = m[2]!;
  }
  return release;
}

/**
 * The names of every package (and virtual package) in SUITE main for `arch`, from the
 * mirror's Packages.gz, checked against the InRelease hash. Kept under `cacheDir` by
 * that hash, so it is downloaded once per mirror state. Undefined when the mirror has
 * no Packages.gz (mmdebstrap then reports unknown packages itself).
 */
export async function packageNames(
  mirror: string,
  suite: string,
  release: SuiteRelease,
  arch: string,
  cacheDir: string,
): Promise<Set<string> | undefined> {
  const path = `main/binary-${arch}/Packages.gz`;
  const expected = release.files.get(path);
  if (!expected) return undefined;
  const cached = join(cacheDir, 'indexes', `${expected.sha256}.names`);
  const known = await readFile(cached, 'utf8').catch(() => undefined);
  if (known !== undefined) return new Set(known.split('\n'));

  const url = `${mirror}/dists/${suite}/${path}`;
  const res = await get(url, mirror);
  if (!res.ok || !res.body) throw unreachable(mirror, `${url} answered ${res.status} ${res.statusText}`);
  const hash = createHash('sha256');
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => hash.update(chunk));
  const names = new Set<string>();
  let rest = '';
  try {
    for await (const chunk of body.pipe(createGunzip())) {
      const lines = (rest + (chunk as Buffer).toString('latin1')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) addNames(line, names);
    }
  } catch (err) {
    throw unreachable(mirror, `reading ${url} failed: ${(err as Error).message}`, err);
  }
  addNames(rest, names);
  if (hash.digest('hex') !== expected.sha256) {
    throw unreachable(
      mirror,
      `${url} does not match the sha256 in the suite's InRelease (the mirror is mid-sync?); try again later`,
    );
  }
  await mkdir(join(cacheDir, 'indexes'), { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  await writeFile(tmp, [...names].join('\n'));
  await rename(tmp, cached);
  return names;
}

function addNames(line: string, names: Set<string>): void {
  if (line.startsWith('Package: ')) names.add(line.slice(9).trim());
  else if (line.startsWith('Provides: ')) {
    for (const p of line.slice(10).split(',')) names.add(p.trim().split(/\s/)[0]!);
  }
}

async function get(url: string, mirror: string): Promise<Response> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw unreachable(mirror, `GET ${url} failed: ${why}`, err);
  }
}

function unreachable(mirror: string, why: string, cause?: unknown): SlipwayError {
  return new SlipwayError(
    'MIRROR_UNREACHABLE',
    `cannot use the Debian mirror ${mirror}: ${why}. Check the --mirror URL (e.g. http://deb.debian.org/debian) and the network`,
    {
      cause,
      detail: { mirror },
    },
  );
}
