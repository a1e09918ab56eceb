import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { SlipwayError } from '../../errors.js';
import type { LocalStore } from '../../store/local-store.js';
import type { Authenticator } from '../auth/types.js';
import { createRegistryApp, type RegistryApp, type RegistryOptions } from './app.js';

export interface ServeOptions extends Omit<RegistryOptions, 'store' | 'auth'> {
  store: LocalStore;
  auth: Authenticator;
  /** `host:port` (`[::1]:5000` for IPv6); port 0 picks a free one. */
  addr: string;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** An app made beforehand (with extra routes such as /healthz); default: a new registry app. */
  app?: RegistryApp;
}

export interface RunningRegistry {
  /** e.g. http://127.0.0.1:5000 */
  url: string;
  app: RegistryApp;
  /** Stops accepting connections, ends open ones, parks upload sessions. */
  close(): Promise<void>;
}

/**
 * Serves the registry on a socket with @hono/node-server; the app's direct path (a
 * pull's manifest and blob requests, app.ts) is asked first.
 *
 * @example
 * const registry = await serveRegistry({ store, auth: allowAll, addr: '127.0.0.1:0' });
 * // skopeo copy ... docker://127.0.0.1:PORT/team/app:v1
 * await registry.close();
 */
export async function serveRegistry(options: ServeOptions): Promise<RunningRegistry> {
  const { host, port } = parseAddr(options.addr);
  const app = options.app ?? createRegistryApp(options);
  const viaHono = getRequestListener(app.fetch);
  const direct = app.direct;
  const listener =
    direct === undefined
      ? viaHono
      : (incoming: IncomingMessage, outgoing: ServerResponse) => {
          if (!direct(incoming, outgoing)) void viaHono(incoming, outgoing);
        };
  const server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, listener)
    : createHttpServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${options.tls ? 'https' : 'http'}://${shownHost}:${address.port}`,
    app,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      await app.close();
    },
  };
}

/** `host:port` or `[v6]:port` into its parts. */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `invalid address "${addr}": use host:port, e.g. 127.0.0.1:5000 or [::1]:5000`,
      { detail: { addr } },
    );
  }
  return { host: (m[1] ?? m[2])!, port };
}
