import { SlipwayError, isSlipwayError } from '../../errors.js';
import type { Credentials } from './auth.js';
import { removeCredentials, saveCredentials, type CredentialFilesOptions } from './credentials.js';
import { Registries, type RegistriesOptions } from './registries.js';

export interface LoginOptions extends CredentialFilesOptions {
  registries?: Omit<RegistriesOptions, 'credentials'>;
}

/**
 * Checks the credentials against the registry (its /v2/ endpoint, through whatever
 * Basic or token flow it asks for), then saves them as `docker login` does.
 *
 * @example
 * await login('127.0.0.1:5000', { username: 'ci', password: 's3cret' });
 */
export async function login(
  host: string,
  credentials: Credentials,
  options: LoginOptions = {},
): Promise<{ file: string; helper?: string }> {
  const registries = new Registries({ ...options.registries, credentials: { [host]: credentials } });
  try {
    await (await registries.client(host)).ping();
  } catch (err) {
    if (isSlipwayError(err, 'UNAUTHORIZED') || (isSlipwayError(err) && err.detail?.status === 401)) {
      throw new SlipwayError(
        'UNAUTHORIZED',
        `${host} refused user ${credentials.username}: check the user name and password`,
        { cause: err },
      );
    }
    throw err;
  }
  return saveCredentials(host, credentials, options);
}

/** Forgets the saved credentials for `host`; false when there were none. */
export function logout(host: string, options: CredentialFilesOptions = {}): Promise<boolean> {
  return removeCredentials(host, options);
}
