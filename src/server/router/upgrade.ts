import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Backend } from '../../platform/run/routing-table.js';
import { backendRequestHeaders, type ForwardedFor } from './headers.js';

/**
 * An `Upgrade` request (WebSocket, or any protocol the app speaks after a 101), as
 * gorouter forwards it: a new TCP connection to a backend (refused or timed-out
 * connections go on to the next backend), the request head written as it came with the
 * router's headers added, then bytes copied both ways until either side closes. The
 * backend's answer is passed on as it is, 101 or not; if it says nothing within the
 * timeout, the client gets a 504. Upgraded connections are never pooled.
 */

export interface UpgradeOptions {
  connectTimeoutMs: number;
  /** How long the backend may take to start its answer. */
  timeoutMs: number;
  maxAttempts: number;
}

export type UpgradeOutcome =
  | { kind: 'piped'; backend: Backend; attempts: number }
  | { kind: 'failed'; attempts: number; error: string }
  | { kind: 'timeout'; backend: Backend; attempts: number }
  | { kind: 'client-gone'; attempts: number };

export async function proxyUpgrade(
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
  backends: Backend[],
  fwd: ForwardedFor,
  path: string,
  o: UpgradeOptions,
  onFailed: (backend: Backend) => void,
  /** Told when the piped connection ends (close accounting). */
  onPiped: (backend: Socket) => void,
): Promise<UpgradeOutcome> {
  let attempts = 0;
  let error = 'no backend';
  for (const backend of backends.slice(0, o.maxAttempts)) {
    if (client.destroyed) return { kind: 'client-gone', attempts };
    attempts++;
    const socket = await dial(backend.host, backend.port, o.connectTimeoutMs).catch((err: NodeJS.ErrnoException) => {
      error = `${err.code ?? 'ERROR'}: ${err.message}`;
      return undefined;
    });
    if (!socket) {
      onFailed(backend);
      continue;
    }
    if (client.destroyed) {
      socket.destroy();
      return { kind: 'client-gone', attempts };
    }
    socket.write(requestHead(req, backendRequestHeaders(req, fwd, backend, true), path));
    if (head.length) socket.write(head);
    const answer = await firstByte(socket, o.timeoutMs);
    if (answer !== 'data') {
      socket.destroy();
      if (answer === 'timeout') return { kind: 'timeout', backend, attempts };
      // Closed before a byte of answer: as a refused connection, the next backend may do.
      error = 'the backend closed the connection before answering';
      onFailed(backend);
      continue;
    }
    onPiped(socket);
    const closeBoth = () => {
      client.destroy();
      socket.destroy();
    };
    socket.on('error', closeBoth).on('close', closeBoth);
    client.on('error', closeBoth).on('close', closeBoth);
    socket.pipe(client);
    client.pipe(socket);
    return { kind: 'piped', backend, attempts };
  }
  return { kind: 'failed', attempts, error };
}

function dial(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no connection within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Waits for the backend's first byte (it stays unread for the pipe). */
function firstByte(socket: Socket, timeoutMs: number): Promise<'data' | 'timeout' | 'closed'> {
  return new Promise((resolve) => {
    const done = (ok: 'data' | 'timeout' | 'closed') => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('close', onClose);
      socket.off('error', onClose);
      resolve(ok);
    };
    const onReadable = () => done(socket.readableLength > 0 ? 'data' : 'closed');
    const onClose = () => done('closed');
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.on('readable', onReadable);
    socket.once('close', onClose);
    socket.once('error', onClose);
  });
}

function requestHead(req: IncomingMessage, headers: Record<string, string | string[]>, path: string): string {
  let head = `${req.method ?? 'GET'} ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  }
  return `${head}\r\n`;
}
