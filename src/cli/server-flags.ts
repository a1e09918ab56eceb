import { readFile } from 'node:fs/promises';
import { SlipwayError } from '../errors.js';

/** Flags and lifecycle shared by the commands that run a server (registry serve, serve). */

/** A whole number option, with an error naming the option. */
export function wholeNumber(value: string, option: string, min = 0): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `${option} must be a whole number${min > 0 ? ` of at least ${min}` : ''}, not "${value}"`,
    );
  }
  return n;
}

/** The PEM files of --tls-cert/--tls-key: both or neither. */
export async function readTls(opts: {
  tlsCert?: string;
  tlsKey?: string;
}): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (opts.tlsCert === undefined && opts.tlsKey === undefined) return undefined;
  if (opts.tlsCert === undefined || opts.tlsKey === undefined)
    throw new SlipwayError('INVALID_ARGUMENT', 'HTTPS needs both --tls-cert FILE and --tls-key FILE (PEM)');
  const read = (path: string, what: string) =>
    readFile(path).catch((err: unknown) => {
      throw new SlipwayError('INVALID_ARGUMENT', `cannot read the TLS ${what} ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    });
  return { cert: await read(opts.tlsCert, 'certificate'), key: await read(opts.tlsKey, 'key') };
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
