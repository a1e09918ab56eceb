import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { SlipwayError, isErrno } from '../../errors.js';

/** A targeted org or space: its guid and its name. */
export interface Named {
  guid: string;
  name: string;
}

/**
 * What `slipway cf` remembers between commands, as the cf CLI keeps it in
 * ~/.cf/config.json: the API it targets (and the links its root document gave),
 * the tokens of the user logged in, and the targeted org and space.
 */
export interface CfConfig {
  /** The API URL given to `login -a` (the Cloud Controller base URL). */
  api?: string;
  /** `links.cloud_controller_v3.meta.version` of the root document. */
  apiVersion?: string;
  /** `links.login.href`: the password and refresh grants, revocation. */
  loginUrl?: string;
  /** `links.uaa.href`: SCIM users. */
  uaaUrl?: string;
  skipSslValidation?: boolean;
  /** The access token (a JWT, without the "bearer " prefix). */
  accessToken?: string;
  refreshToken?: string;
  org?: Named;
  space?: Named;
}

/** `$SLIPWAY_CF_CONFIG`, else `~/.slipway/config.json`. */
export function cfConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLIPWAY_CF_CONFIG || join(homedir(), '.slipway', 'config.json');
}

/** The saved config; an empty one when there is no file yet. */
export async function readCfConfig(path: string): Promise<CfConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return {};
    throw new SlipwayError('IO_ERROR', `cannot read the cf config ${path}: ${(err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `the cf config ${path} is not valid JSON: delete it and run 'slipway cf login' again`,
      { cause: err },
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `the cf config ${path} is not a JSON object: delete it and run 'slipway cf login' again`,
    );
  return pick(value as Record<string, unknown>);
}

/**
 * Replaces the config atomically (a temp file of mode 0600 beside it, fsync, rename):
 * it holds tokens, and a command interrupted mid-write leaves the old file whole.
 */
export async function writeCfConfig(path: string, config: CfConfig): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${process.pid}.${randomBytes(4).toString('hex')}.config.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(pick(config as Record<string, unknown>), null, 2)}\n`);
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new SlipwayError('IO_ERROR', `cannot write the cf config ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // A file that existed with wider permissions keeps none of them (rename replaced it with the 0600 one).
  await chmod(path, 0o600).catch(() => {});
}

/** The known fields, with the right types; anything else in the file is dropped. */
function pick(raw: Record<string, unknown>): CfConfig {
  const out: CfConfig = {};
  for (const key of ['api', 'apiVersion', 'loginUrl', 'uaaUrl', 'accessToken', 'refreshToken'] as const) {
    const v = raw[key];
    if (typeof v === 'string' && v !== '') out[key] = v;
  }
  if (raw.skipSslValidation === true) out.skipSslValidation = true;
  for (const key of ['org', 'space'] as const) {
    const v = raw[key] as Partial<Named> | undefined;
    if (v && typeof v.guid === 'string' && typeof v.name === 'string') out[key] = { guid: v.guid, name: v.name };
  }
  return out;
}
