import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defaultTokenKeyPath, loadOrCreateTokenKey } from '../src/auth/token-key.js';
import { PlatformTokens } from '../src/platform/identity/tokens.js';
import { SqlitePlatformStore } from '../src/platform/store/sqlite-platform-store.js';
import { startPlatformServer } from '../src/server/index.js';
import { LocalStore } from '../src/store/local-store.js';
import { ROOT, run } from './helpers.js';

/**
 * TEST SUPPORT for the platform tests over real HTTP (test/platform-matrix.test.ts,
 * test/platform.test.ts): `slipway serve` in-process or as a child process, a client
 * for the v3 API, UAA and the registry's token endpoint, small images made in memory
 * (pushed over HTTP or written as OCI layouts for skopeo), and skopeo itself.
 */

/** The issuer PlatformTokens signs with in `slipway serve` (src/server/platform-server.ts). */
export const PLATFORM_ISSUER = 'slipway-uaa';
/** The registry's token service name in `slipway serve`. */
export const REGISTRY_SERVICE = 'slipway';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

/** How a principal proves who it is: an Authorization header for the API, a login for the registry. */
export interface Credentials {
  /** `bearer ...` for the v3 API; undefined: anonymous. */
  api?: string;
  /** user name and password (or API token, or staging token) for the registry; undefined: anonymous. */
  registry?: { username: string; password: string };
}

/** The platform served in this process: the image store, the platform store and a token signer with the server's key. */
export interface InProcessPlatform {
  url: string;
  host: string;
  home: string;
  store: LocalStore;
  pstore: SqlitePlatformStore;
  /** Signs with the server's key (staging tokens, tokens with other lifetimes). */
  tokens: PlatformTokens;
  adminPassword: string;
  close(): Promise<void>;
}

export async function startInProcessPlatform(
  home: string,
  options: { adminPassword?: string; accessTokenSeconds?: number } = {},
): Promise<InProcessPlatform> {
  const adminPassword = options.adminPassword ?? 'admin-secret-pw';
  const passwordFile = join(home, 'admin-password');
  await mkdir(home, { recursive: true });
  await writeFile(passwordFile, adminPassword, { mode: 0o600 });
  const store = await LocalStore.open(home);
  const pstore = await SqlitePlatformStore.open(join(home, 'platform.sqlite'));
  const warnings: string[] = [];
  const server = await startPlatformServer({
    store,
    addr: '127.0.0.1:0',
    adminPasswordFile: passwordFile,
    gcIntervalMs: 0,
    gcGraceMs: 3600_000,
    warn: (m) => warnings.push(m),
    platformStore: pstore,
    ...(options.accessTokenSeconds ? { accessTokenSeconds: options.accessTokenSeconds } : {}),
  });
  const key = await loadOrCreateTokenKey(defaultTokenKeyPath(home));
  return {
    url: server.url,
    host: new URL(server.url).host,
    home,
    store,
    pstore,
    tokens: new PlatformTokens({ key, issuer: PLATFORM_ISSUER }),
    adminPassword,
    async close() {
      await server.close();
      await store.close();
      if (warnings.length > 0) process.stderr.write(`platform warnings:\n${warnings.join('\n')}\n`);
    },
  };
}

export interface ServeProcess {
  url: string;
  /** The router's URL when it runs apps (not with --no-run). */
  routerUrl?: string;
  host: string;
  pid: number;
  stderr: () => string;
  /** SIGTERM, then the exit code. */
  stop: () => Promise<number | null>;
  /** SIGKILL, then resolves once the process is gone. */
  kill: () => Promise<void>;
}

/**
 * `slipway serve --addr 127.0.0.1:0 --admin-password-file F --json` (GC off, the router
 * on a free port) from source with SLIPWAY_HOME=home, as a child process; resolves with
 * the URL it prints.
 */
export function startServe(
  home: string,
  passwordFile: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--',
      join(ROOT, 'bin/slipway.js'),
      '--json',
      'serve',
      '--addr',
      '127.0.0.1:0',
      '--admin-password-file',
      passwordFile,
      '--gc-interval',
      '0',
      // The router on a free port (its default, 8080, would be shared by servers run at once).
      '--router-addr',
      '127.0.0.1:0',
      ...args,
    ],
    {
      env: { ...process.env, ...env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      let url: string | undefined;
      let routerUrl: string | undefined;
      try {
        ({ url, routerUrl } = JSON.parse(stdout) as { url?: string; routerUrl?: string });
      } catch {
        return; // not the whole document yet
      }
      if (url === undefined) {
        reject(new Error(`slipway serve printed no URL: ${stdout}\n${stderr}`));
        return;
      }
      resolve({
        url,
        ...(routerUrl ? { routerUrl } : {}),
        host: new URL(url).host,
        pid: child.pid as number,
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
    void exited.then((code) => reject(new Error(`slipway serve exited (${code}) before serving:\n${stderr}`)));
  });
}

// ---------------------------------------------------------------------------
// A client of the whole platform

export class PlatformClient {
  readonly base: string;

  constructor(base: string) {
    this.base = base.replace(/\/+$/, '');
  }

  /** One request; the body is JSON (an object), a Buffer, or a string sent as is. */
  async call(
    method: string,
    path: string,
    auth?: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const h: Record<string, string> = { ...headers };
    if (auth) h['authorization'] = auth;
    let payload: string | Buffer | undefined;
    if (Buffer.isBuffer(body) || typeof body === 'string') payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(path.startsWith('http') ? path : this.base + path, {
      method,
      headers: h,
      ...(payload === undefined ? {} : { body: payload }),
      redirect: 'manual',
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  }

  /** A request that must answer `status`; its JSON body. */
  async ok(method: string, path: string, auth: string | undefined, body?: unknown, status?: number): Promise<any> {
    const res = await this.call(method, path, auth, body);
    const want = status ?? (method === 'POST' ? 201 : method === 'DELETE' ? 202 : 200);
    if (res.status !== want) throw new Error(`${method} ${path}: ${res.status} (wanted ${want}): ${res.text}`);
    if (res.status === 202 && method === 'DELETE') await this.waitJob(res.headers.get('location') as string, auth);
    return res.body;
  }

  /** Polls a job until it is COMPLETE (throws when it FAILED). */
  async waitJob(location: string, auth: string | undefined): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const job = await this.call('GET', location, auth);
      if (job.body?.state === 'COMPLETE') return;
      if (job.body?.state === 'FAILED') throw new Error(`job ${location} failed: ${job.text}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`job ${location} did not finish`);
  }

  /** UAA's password grant (client cf); the whole answer. */
  async passwordGrant(username: string, password: string): Promise<Answer> {
    return this.call(
      'POST',
      '/uaa/oauth/token',
      `Basic ${Buffer.from('cf:').toString('base64')}`,
      new URLSearchParams({ grant_type: 'password', username, password }).toString(),
      { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    );
  }

  /** `bearer <access token>` of a password login. */
  async login(username: string, password: string): Promise<string> {
    const res = await this.passwordGrant(username, password);
    if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${res.text}`);
    return `bearer ${res.body.access_token}`;
  }

  /** A registry token (GET /token, Basic auth or anonymous) for the scopes; the whole answer. */
  async registryTokenAnswer(cred: Credentials['registry'], scopes: string[]): Promise<Answer> {
    const q = new URLSearchParams({ service: REGISTRY_SERVICE });
    for (const s of scopes) q.append('scope', s);
    const auth = cred ? `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}` : undefined;
    return this.call('GET', `/token?${q}`, auth);
  }

  /** `Bearer <registry token>` for the scopes. */
  async registryToken(cred: Credentials['registry'], scopes: string[]): Promise<string> {
    const res = await this.registryTokenAnswer(cred, scopes);
    if (res.status !== 200) throw new Error(`registry token for ${scopes.join(' ')}: ${res.status} ${res.text}`);
    return `Bearer ${res.body.token}`;
  }

  // Resources, as an admin (or anyone allowed) makes them through the API.

  async createUser(adminAuth: string, username: string, password: string): Promise<string> {
    return (await this.ok('POST', '/uaa/Users', adminAuth, { userName: username, password })).id;
  }

  async createOrg(auth: string, name: string): Promise<string> {
    return (await this.ok('POST', '/v3/organizations', auth, { name })).guid;
  }

  async createSpace(auth: string, orgGuid: string, name: string): Promise<string> {
    return (
      await this.ok('POST', '/v3/spaces', auth, {
        name,
        relationships: { organization: { data: { guid: orgGuid } } },
      })
    ).guid;
  }

  async createApp(auth: string, spaceGuid: string, name: string, env: Record<string, string> = {}): Promise<string> {
    return (
      await this.ok('POST', '/v3/apps', auth, {
        name,
        environment_variables: env,
        relationships: { space: { data: { guid: spaceGuid } } },
      })
    ).guid;
  }

  async orgRole(auth: string, userGuid: string, orgGuid: string, type: string): Promise<string> {
    return (
      await this.ok('POST', '/v3/roles', auth, {
        type,
        relationships: { user: { data: { guid: userGuid } }, organization: { data: { guid: orgGuid } } },
      })
    ).guid;
  }

  async spaceRole(auth: string, userGuid: string, spaceGuid: string, type: string): Promise<string> {
    return (
      await this.ok('POST', '/v3/roles', auth, {
        type,
        relationships: { user: { data: { guid: userGuid } }, space: { data: { guid: spaceGuid } } },
      })
    ).guid;
  }

  async apiToken(auth: string, spaceGuid: string, name: string): Promise<{ token: string; guid: string }> {
    const body = await this.ok('POST', '/v3/api_tokens', auth, {
      name,
      relationships: { space: { data: { guid: spaceGuid } } },
    });
    return { token: body.token, guid: body.guid };
  }

  // The registry over HTTP

  /** Pushes an image's blobs (monolithic POST ?digest=) and its manifest under `tag`; the manifest PUT's answer. */
  async pushImage(token: string, repo: string, tag: string, image: TestImage): Promise<Answer> {
    for (const [digest, bytes] of image.blobs) {
      const head = await this.call('HEAD', `/v2/${repo}/blobs/${digest}`, token);
      if (head.status === 200) continue;
      const up = await this.call('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, token, bytes, {
        'content-type': 'application/octet-stream',
      });
      if (up.status !== 201) return up;
    }
    return this.putManifest(token, repo, tag, image.manifest);
  }

  putManifest(token: string, repo: string, reference: string, manifest: Buffer): Promise<Answer> {
    return this.call('PUT', `/v2/${repo}/manifests/${reference}`, token, manifest, { 'content-type': OCI_MANIFEST });
  }
}

/** The OCI error code of a registry answer (`DENIED`, `NAME_UNKNOWN`, `UNAUTHORIZED`, ...). */
export function ociCode(answer: Answer): string | undefined {
  return answer.body?.errors?.[0]?.code;
}

/** The claims of a JWT, unchecked. */
export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.replace(/^bearer\s+/i, '').split('.')[1] as string;
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------
// Images

export interface TestImage {
  manifest: Buffer;
  digest: string;
  /** Every blob (config and layers) by digest. */
  blobs: Map<string, Buffer>;
  configDigest: string;
  layerDigests: string[];
}

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Deterministic bytes from a seed (a sha256 chain). */
export function seededBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** A small image: one gzip layer per seed (of `layerSize` bytes before gzip), a config naming their diff IDs, an OCI manifest (annotations make it unique). */
export function makeImage(layerSeeds: string[], annotations: Record<string, string> = {}, layerSize = 2048): TestImage {
  const blobs = new Map<string, Buffer>();
  const layers = layerSeeds.map((seed) => {
    const raw = seededBytes(seed, layerSize);
    const gz = gzipSync(raw);
    blobs.set(sha256(gz), gz);
    return { digest: sha256(gz), size: gz.length, diffId: sha256(raw) };
  });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  const configDigest = sha256(config);
  blobs.set(configDigest, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layers.map((l) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: l.digest,
        size: l.size,
      })),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    }),
  );
  return { manifest, digest: sha256(manifest), blobs, configDigest, layerDigests: layers.map((l) => l.digest) };
}

/** An artifact manifest whose subject is `subject` (what GET /v2/NAME/referrers/DIGEST lists). */
export function makeReferrer(subject: TestImage, artifactType: string): TestImage {
  const empty = Buffer.from('{}');
  const blobs = new Map([[sha256(empty), empty]]);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
      layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 }],
      subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length },
    }),
  );
  return { manifest, digest: sha256(manifest), blobs, configDigest: sha256(empty), layerDigests: [] };
}

/** Writes the image as an OCI layout `dir` with the ref name `tag` (what `skopeo copy oci:DIR:TAG` reads). */
export async function writeLayout(dir: string, tag: string, image: TestImage): Promise<void> {
  await mkdir(join(dir, 'blobs/sha256'), { recursive: true });
  for (const [digest, bytes] of [...image.blobs, [image.digest, image.manifest] as const])
    await writeFile(join(dir, 'blobs/sha256', digest.slice(7)), bytes);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: OCI_MANIFEST,
          digest: image.digest,
          size: image.manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
}

// ---------------------------------------------------------------------------
// skopeo

export interface SkopeoResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs skopeo (no TLS, no signature policy); never throws: the outcome and what it printed. */
export async function skopeo(args: string[]): Promise<SkopeoResult> {
  try {
    const stdout = await run('skopeo', ['--insecure-policy', ...args]);
    return { ok: true, stdout, stderr: '' };
  } catch (err) {
    return { ok: false, stdout: '', stderr: (err as Error).message };
  }
}

/** skopeo's --creds (or --src-creds / --dest-creds) for a registry login; none for anonymous. */
export function skopeoCreds(flag: string, cred: Credentials['registry']): string[] {
  return cred ? [`${flag}=${cred.username}:${cred.password}`] : [];
}
