import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { SlipwayError, isErrno } from '../../errors.js';
import type { Credentials } from './auth.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { findCredentials } from './credentials.js';

export interface RegistriesOptions {
  /** Credentials given on the command line or by the environment, per host; they win over saved ones. */
  credentials?: Record<string, Credentials>;
  /** An auth file to read instead of $REGISTRY_AUTH_FILE and the usual places. */
  authFile?: string;
  /** Plain http for every registry (loopback registries always use it). */
  insecure?: boolean;
  /** A PEM bundle of extra CAs trusted for every registry. */
  caFile?: string;
  /** Directories holding HOST/*.crt CA files, as containers-certs.d(5); default /etc/containers/certs.d and /etc/docker/certs.d. */
  certDirs?: string[];
  /** How bearer tokens are asked for (default `get`). */
  tokenFlow?: 'get' | 'oauth2';
  /** Client tuning (tests, benchmarks). */
  client?: Pick<RegistryClientOptions, 'attempts' | 'backoffMs' | 'chunkThreshold' | 'chunkSize'>;
}

const DEFAULT_CERT_DIRS = ['/etc/containers/certs.d', '/etc/docker/certs.d'];

/**
 * One RegistryClient per registry host, configured from what the user gave: flags,
 * environment, saved logins (`slipway login`, docker and podman auth files), CA files.
 * Clients are kept so that tokens are reused across the operations of one command.
 *
 * @example
 * const registries = new Registries({ insecure: true });
 * const client = await registries.client('127.0.0.1:5000', 'team/app');
 */
export class Registries {
  readonly options: RegistriesOptions;
  readonly #clients = new Map<string, Promise<RegistryClient>>();

  constructor(options: RegistriesOptions = {}) {
    this.options = options;
  }

  /** The client for `host`; `repo` picks repository-scoped saved credentials where an auth file has them. */
  client(host: string, repo?: string): Promise<RegistryClient> {
    let client = this.#clients.get(host);
    if (!client) {
      client = this.#create(host, repo);
      this.#clients.set(host, client);
      client.catch(() => this.#clients.delete(host));
    }
    return client;
  }

  async #create(host: string, repo: string | undefined): Promise<RegistryClient> {
    const credentials =
      this.options.credentials?.[host] ??
      (await findCredentials(host, repo, this.options.authFile ? { authFile: this.options.authFile } : {}));
    const ca = await this.#caFor(host);
    const options: RegistryClientOptions = {
      ...this.options.client,
      ...(credentials ? { credentials } : {}),
      ...(this.options.insecure ? { insecure: true } : {}),
      ...(this.options.tokenFlow ? { tokenFlow: this.options.tokenFlow } : {}),
    };
    if (!ca) return new RegistryClient(host, options);
    // A CA for the host means it speaks TLS, loopback or not.
    return new RegistryClient(`https://${host}`, { ...options, ca });
  }

  /** The extra CAs for `host`: the --ca-file bundle and certs.d/HOST/*.crt. */
  async #caFor(host: string): Promise<string[] | undefined> {
    const pems: string[] = [];
    if (this.options.caFile) {
      try {
        pems.push(await readFile(this.options.caFile, 'utf8'));
      } catch (err) {
        throw new SlipwayError(
          'NOT_FOUND',
          `cannot read the CA file ${this.options.caFile}: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    for (const dir of this.options.certDirs ?? DEFAULT_CERT_DIRS) {
      // certs.d directories are named HOST or HOST:PORT
      const hostDir = join(dir, host);
      let names: string[];
      try {
        names = await readdir(hostDir);
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EACCES')) continue;
        throw err;
      }
      for (const name of names.filter((n) => n.endsWith('.crt')).sort())
        pems.push(await readFile(join(hostDir, name), 'utf8'));
    }
    if (pems.length === 0) return undefined;
    // A custom CA adds to the system roots rather than replacing them.
    return [...rootCertificates, ...pems];
  }
}
