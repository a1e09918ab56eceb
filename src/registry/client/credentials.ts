import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { SlipwayError, isErrno } from '../../errors.js';
import type { Credentials } from './auth.js';

/**
 * The auth file format docker and podman share (`~/.docker/config.json`,
 * containers-auth.json(5)); only the fields credentials come from.
 */
interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [other: string]: unknown;
}

/** Docker Hub's credentials live under its v1 URL, as docker login writes them. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

export interface CredentialFilesOptions {
  /** An explicit auth file (`--authfile`); otherwise $REGISTRY_AUTH_FILE, then the usual places. */
  authFile?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Where credentials are read, in the order containers/image reads them: an explicit
 * file or $REGISTRY_AUTH_FILE, podman's auth.json, then docker's config.json.
 */
export function credentialFiles(options: CredentialFilesOptions = {}): string[] {
  const env = options.env ?? process.env;
  if (options.authFile) return [options.authFile];
  const home = env.HOME ?? homedir();
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'containers', 'auth.json'));
  files.push(dockerConfigFile(env));
  return files;
}

/** The file `slipway login` writes, as `docker login` does: an explicit file, $REGISTRY_AUTH_FILE, or docker's config.json. */
export function loginFile(options: CredentialFilesOptions = {}): string {
  const env = options.env ?? process.env;
  return options.authFile ?? env.REGISTRY_AUTH_FILE ?? dockerConfigFile(env);
}

function dockerConfigFile(env: NodeJS.ProcessEnv): string {
  return join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
}

/**
 * Finds the credentials for `host` (and optionally a repository on it, since
 * containers auth.json keys may name `host/namespace`): per-host credential helpers,
 * then a global `credsStore`, then `auths` entries, file by file.
 *
 * @example
 * const creds = await findCredentials('ghcr.io', 'org/app'); // { username, password } | undefined
 */
export async function findCredentials(
  host: string,
  repo?: string,
  options: CredentialFilesOptions = {},
): Promise<Credentials | undefined> {
  const env = options.env ?? process.env;
  for (const file of credentialFiles(options)) {
    const config = await readAuthFile(file);
    if (!config) continue;
    const helper =
      config.credHelpers?.[host] ?? (host === 'docker.io' ? config.credHelpers?.[DOCKER_HUB_KEY] : undefined);
    if (helper) return credentialHelperGet(helper, host, env);
    const entry = matchAuthEntry(config, host, repo);
    if (entry) return entry;
    if (config.credsStore) {
      const fromStore = await credentialHelperGet(config.credsStore, host, env);
      if (fromStore) return fromStore;
    }
  }
  return undefined;
}

/** The `auths` entry for host/repo: the longest key matching the repository, then the host. */
function matchAuthEntry(config: AuthFile, host: string, repo: string | undefined): Credentials | undefined {
  const entries = Object.entries(config.auths ?? {}).map(([key, value]) => ({ key: normalizeAuthKey(key), value }));
  const candidates: string[] = [];
  if (repo) {
    const parts = repo.split('/');
    for (let n = parts.length; n > 0; n--) candidates.push(`${host}/${parts.slice(0, n).join('/')}`);
  }
  candidates.push(host);
  for (const candidate of candidates) {
    const hit = entries.find((e) => e.key === candidate);
    if (!hit) continue;
    const { auth, username, password } = hit.value;
    if (auth) return decodeAuth(auth, hit.key);
    if (username && password) return { username, password };
  }
  return undefined;
}

/** `https://index.docker.io/v1/` -> `docker.io`; `https://host:5000/` -> `host:5000`; `host/ns` stays. */
export function normalizeAuthKey(key: string): string {
  let k = key.replace(/^https?:\/\//, '');
  if (key.includes('://')) k = k.split('/')[0]!;
  return k === 'index.docker.io' || k === 'registry-1.docker.io' ? 'docker.io' : k.replace(/\/+$/, '');
}

function decodeAuth(auth: string, key: string): Credentials {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0)
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `the saved credentials for ${key} are not base64 of "user:password"; run slipway login ${key} again`,
    );
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

async function readAuthFile(file: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw new SlipwayError('IO_ERROR', `cannot read the auth file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (text.trim() === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as AuthFile;
  } catch (err) {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `the auth file ${file} is not valid JSON (${(err as Error).message}); fix or remove it`,
      { cause: err },
    );
  }
}

/** Saves credentials for `host` where `docker login` would: a credential helper if the file names one, else base64 in `auths`. */
export async function saveCredentials(
  host: string,
  credentials: Credentials,
  options: CredentialFilesOptions = {},
): Promise<{ file: string; helper?: string }> {
  const file = loginFile(options);
  const config = (await readAuthFile(file)) ?? {};
  const key = host === 'docker.io' ? DOCKER_HUB_KEY : host;
  const helper = config.credHelpers?.[host] ?? config.credsStore;
  if (helper) {
    await runHelper(
      helper,
      'store',
      JSON.stringify({ ServerURL: key, Username: credentials.username, Secret: credentials.password }),
      options.env ?? process.env,
    );
    return { file, helper };
  }
  config.auths = {
    ...config.auths,
    [key]: { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') },
  };
  await writeAuthFile(file, config);
  return { file };
}

/** Forgets the credentials for `host`; false when none were saved. */
export async function removeCredentials(host: string, options: CredentialFilesOptions = {}): Promise<boolean> {
  const file = loginFile(options);
  const config = await readAuthFile(file);
  if (!config) return false;
  const helper = config.credHelpers?.[host] ?? config.credsStore;
  let removed = false;
  if (helper) {
    try {
      await runHelper(helper, 'erase', host === 'docker.io' ? DOCKER_HUB_KEY : host, options.env ?? process.env);
      removed = true;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  const keys = Object.keys(config.auths ?? {}).filter((k) => normalizeAuthKey(k) === host);
  if (keys.length > 0) {
    for (const k of keys) delete config.auths![k];
    await writeAuthFile(file, config);
    removed = true;
  }
  return removed;
}

/** Written 0600 through a temporary file and rename, so a crash never leaves half a file of secrets. */
async function writeAuthFile(file: string, config: AuthFile): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new SlipwayError('IO_ERROR', `cannot write the auth file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** `docker-credential-NAME get` (the docker credential helper protocol); undefined when it has nothing for the host. */
async function credentialHelperGet(
  helper: string,
  host: string,
  env: NodeJS.ProcessEnv,
): Promise<Credentials | undefined> {
  let out: string;
  try {
    out = await runHelper(helper, 'get', host === 'docker.io' ? DOCKER_HUB_KEY : host, env);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(out) as typeof parsed;
  } catch (err) {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `docker-credential-${helper} get answered something other than JSON for ${host}`,
      { cause: err },
    );
  }
  if (typeof parsed.Username !== 'string' || typeof parsed.Secret !== 'string') {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `docker-credential-${helper} get answered no Username/Secret for ${host}`,
    );
  }
  return { username: parsed.Username, password: parsed.Secret };
}

function isNotFound(err: unknown): boolean {
  return err instanceof SlipwayError && err.detail?.notFound === true;
}

function runHelper(
  helper: string,
  action: 'get' | 'store' | 'erase',
  input: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(
      program,
      [action],
      { env, timeout: 30_000, maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        if (isErrno(err, 'ENOENT')) {
          return reject(
            new SlipwayError(
              'TOOL_MISSING',
              `the credential helper ${program} named in the auth file is not installed (or not on PATH)`,
              { cause: err },
            ),
          );
        }
        const said = `${stdout}${stderr}`.trim();
        // the protocol's "not found" answer
        if (/credentials not found/i.test(said))
          return reject(new SlipwayError('NOT_FOUND', said, { detail: { notFound: true } }));
        reject(
          new SlipwayError('IO_ERROR', `${program} ${action} failed: ${said || (err as Error).message}`, {
            cause: err,
          }),
        );
      },
    );
    child.stdin?.end(input);
  });
}
