import { readFileSync } from 'node:fs';
import { SlipwayError } from '../../errors.js';

export interface StagingEnvInput {
  /** The build image's Env (PATH and the like). */
  imageEnv: string[];
  stack: string;
  appName: string;
  /** KEY=VALUE pairs given by the user (app env vars). */
  env: string[];
  /** A file holding VCAP_SERVICES JSON. */
  servicesFile?: string;
  memoryMb: number;
}

/**
 * The environment CF gives buildpacks while staging (CC's staging_action_builder):
 * the app's env vars, CF_STACK, VCAP_APPLICATION, MEMORY_LIMIT, VCAP_SERVICES; LANG is
 * set in the container, where the image's locales are known (LANG_DEFAULT_SH);
 * plus Heroku's STACK. User env vars are in the process env (CF) and also files of
 * the ENV_DIR (Heroku): see envDirFiles. A CF_STACK or STACK the user gives wins over
 * the stack's name: it is how a buildpack that only knows cflinuxfs4 is told to take
 * its binaries for it on a stack with another name.
 */
export function stagingEnv(input: StagingEnvInput): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of input.imageEnv) {
    const eq = kv.indexOf('=');
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const user = new Map(userEnv(input.env));
  for (const [k, v] of user) out[k] = v;
  let services = '{}';
  if (input.servicesFile) {
    services = readFileSync(input.servicesFile, 'utf8').trim();
    try {
      JSON.parse(services);
    } catch (err) {
      throw new SlipwayError(
        'INVALID_ARGUMENT',
        `--services ${input.servicesFile} is not JSON (VCAP_SERVICES, e.g. {"user-provided":[...]})`,
        { cause: err },
      );
    }
  }
  Object.assign(out, {
    CF_STACK: user.get('CF_STACK') ?? input.stack,
    STACK: user.get('STACK') ?? input.stack,
    MEMORY_LIMIT: `${input.memoryMb}m`,
    VCAP_SERVICES: services,
    VCAP_APPLICATION: JSON.stringify({
      application_name: input.appName,
      name: input.appName,
      application_uris: [],
      uris: [],
      space_name: 'slipway',
      organization_name: 'slipway',
      limits: { mem: input.memoryMb, disk: 1024, fds: 16384 },
      users: null,
      version: '0',
      application_version: '0',
    }),
  });
  return out;
}

/** User env as pairs; a pair without "=" is refused with its text. */
export function userEnv(env: string[]): [string, string][] {
  return env.map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new SlipwayError('INVALID_ARGUMENT', `--env "${kv}" must be KEY=VALUE`);
    const key = kv.slice(0, eq);
    // The key is also a file name in ENV_DIR: one name, never a path.
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key))
      throw new SlipwayError(
        'INVALID_ARGUMENT',
        `--env "${key}" is not a variable name (letters, digits, "_", ".", "-"; not starting with a digit)`,
        { detail: { name: key } },
      );
    return [key, kv.slice(eq + 1)];
  });
}
