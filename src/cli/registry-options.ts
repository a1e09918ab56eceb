import { Option, type Command } from 'commander';
import { SlipwayError } from '../errors.js';
import type { TransportRef } from '../oci/transport.js';
import type { Credentials } from '../registry/client/auth.js';
import { Registries } from '../registry/client/registries.js';

/** The flags every command that reaches a registry takes, as skopeo names them. */
export interface RegistryFlags {
  creds?: string;
  srcCreds?: string;
  destCreds?: string;
  authfile?: string;
  insecure?: boolean;
  caFile?: string;
  certDir?: string;
}

export const REGISTRY_HELP = `
Registry access:
  Credentials come from --creds (or $SLIPWAY_CREDS), else from \`slipway login\`,
  $REGISTRY_AUTH_FILE, podman's auth.json and docker's ~/.docker/config.json
  (credential helpers included). Loopback registries are reached over plain http
  unless a CA is given for them (--ca-file, --cert-dir).`;

/** Adds --creds (or --src-creds/--dest-creds for two ends), --authfile, --insecure and --ca-file. */
export function withRegistryOptions(command: Command, ends: 'one' | 'two' = 'one'): Command {
  command.addOption(new Option('--creds <user:password>', 'credentials for the registry').env('SLIPWAY_CREDS'));
  if (ends === 'two') {
    command
      .option('--src-creds <user:password>', "credentials for the source's registry (default: --creds)")
      .option('--dest-creds <user:password>', "credentials for the destination's registry (default: --creds)");
  }
  return command
    .addOption(new Option('--authfile <file>', 'read saved credentials from this file only').env('REGISTRY_AUTH_FILE'))
    .option('--insecure', 'use plain http for the registry (loopback registries always do)')
    .addOption(new Option('--ca-file <pem>', 'trust the CAs in this PEM file for TLS').env('SLIPWAY_CA_FILE'))
    .option(
      '--cert-dir <dir>',
      'trust DIR/HOST/*.crt for HOST (default: /etc/containers/certs.d and /etc/docker/certs.d)',
    );
}

/** The Registries a command's flags describe; `src`/`dst` say which hosts --src-creds and --dest-creds belong to. */
export function registriesFrom(
  flags: RegistryFlags,
  ends: { src?: TransportRef; dst?: TransportRef } = {},
): Registries {
  const credentials: Record<string, Credentials> = {};
  const assign = (ref: TransportRef | undefined, value: string | undefined, flag: string) => {
    if (ref?.transport === 'docker' && value) credentials[ref.reference.domain] = parseCreds(value, flag);
  };
  assign(ends.dst, flags.destCreds ?? flags.creds, flags.destCreds ? '--dest-creds' : '--creds');
  assign(ends.src, flags.srcCreds ?? flags.creds, flags.srcCreds ? '--src-creds' : '--creds');
  return new Registries({
    credentials,
    ...(flags.authfile ? { authFile: flags.authfile } : {}),
    ...(flags.insecure ? { insecure: true } : {}),
    ...(flags.caFile ? { caFile: flags.caFile } : {}),
    ...(flags.certDir ? { certDirs: [flags.certDir] } : {}),
  });
}

export function parseCreds(value: string, flag = '--creds'): Credentials {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new SlipwayError('INVALID_ARGUMENT', `${flag} must be USER:PASSWORD, e.g. ${flag} ci:s3cret`);
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}
