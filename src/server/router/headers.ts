import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Backend } from '../../platform/run/routing-table.js';

/**
 * The headers a router changes on the way through, as gorouter does: hop-by-hop fields
 * dropped both ways (RFC 9110 7.6.1: Connection and what it names, plus Keep-Alive,
 * Proxy-Connection, TE, Transfer-Encoding, Upgrade; and, as Go's reverse proxy, Trailer
 * and the Proxy-Auth pair, which are the proxy's), then X-Forwarded-For appended,
 * X-Forwarded-Proto set unless a proxy in front set it, X-Vcap-Request-Id (kept when the
 * client sent a sane one, so a request can be followed across hops), X-Request-Start and
 * gorouter's X-Cf-* instance fields. Expect goes too: node:http has answered
 * `100-continue` already, and undici refuses the field.
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

export type OutgoingHeaders = Record<string, string | string[]>;

export interface ForwardedFor {
  requestId: string;
  /** The listener's scheme. */
  scheme: 'http' | 'https';
  clientIp: string;
  startMs: number;
}

/** Fields the Connection header names (they are hop-by-hop too). */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (!value) return undefined;
  const tokens = (Array.isArray(value) ? value.join(',') : value)
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
  return tokens.length ? new Set(tokens) : undefined;
}

function endToEnd(headers: IncomingHttpHeaders, keep?: Set<string>): OutgoingHeaders {
  const named = connectionTokens(headers.connection);
  const out: OutgoingHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if ((HOP_BY_HOP.has(name) || named?.has(name)) && !keep?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

const UPGRADE_KEEP = new Set(['connection', 'upgrade']);

/** The request's headers for the backend. `upgrade`: keep Connection and Upgrade (the handshake needs them). */
export function backendRequestHeaders(
  req: IncomingMessage,
  fwd: ForwardedFor,
  backend: Backend,
  upgrade = false,
): OutgoingHeaders {
  const out = endToEnd(req.headers, upgrade ? UPGRADE_KEEP : undefined);
  if (upgrade) {
    out['connection'] = 'Upgrade';
  }
  const prior = req.headers['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${prior}, ${fwd.clientIp}` : fwd.clientIp;
  if (!req.headers['x-forwarded-proto']) out['x-forwarded-proto'] = fwd.scheme;
  out['x-vcap-request-id'] = fwd.requestId;
  if (!req.headers['x-request-start']) out['x-request-start'] = String(fwd.startMs);
  out['x-cf-applicationid'] = backend.appGuid;
  out['x-cf-instanceindex'] = String(backend.index);
  out['x-cf-instanceid'] = backend.instanceGuid;
  return out;
}

/** The backend's answer headers for the client, with the request id. */
export function clientResponseHeaders(headers: IncomingHttpHeaders, requestId: string): OutgoingHeaders {
  const out = endToEnd(headers);
  out['x-vcap-request-id'] = requestId;
  return out;
}

const SANE_ID = /^[\w.:@-]{1,128}$/;

/** The client's X-Vcap-Request-Id if it is a plausible id, else a new uuid. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-vcap-request-id'];
  return typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID();
}

/** The peer's address as X-Forwarded-For lists it (`::ffff:1.2.3.4` as `1.2.3.4`). */
export function clientIpOf(req: IncomingMessage): string {
  const ip = req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** The request line's target as origin-form (`http://h/p?q` -> `/p?q`), and the host it names if absolute. */
export function requestTarget(req: IncomingMessage): { host: string; path: string } {
  const url = req.url ?? '/';
  if (url.startsWith('/')) return { host: req.headers.host ?? '', path: url };
  if (/^https?:\/\//i.test(url)) {
    try {
      const u = new URL(url);
      return { host: u.host, path: `${u.pathname}${u.search}` };
    } catch {
      // fall through: not a URL after all
    }
  }
  // `*` (OPTIONS) and anything else: ask the backend as given.
  return { host: req.headers.host ?? '', path: url };
}
