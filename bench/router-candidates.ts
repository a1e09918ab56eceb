/**
 * The proxy mechanisms bench/router-overhead.ts compares, each the least a router needs
 * to forward a request to one fixed backend over keep-alive connections: hop-by-hop
 * headers dropped, the request body and the answer streamed. They differ only in the
 * client side of the proxy; the listening side is node:http for all of them, as it is
 * for the router. The chosen one lives, complete, in src/server/router/.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';
import { Pool } from 'undici';

export type CandidateName = 'node-http' | 'http-proxy' | 'undici-stream' | 'undici-dispatch';
export const CANDIDATES: CandidateName[] = ['node-http', 'http-proxy', 'undici-stream', 'undici-dispatch'];

const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
]);

function forwardHeaders(req: http.IncomingMessage, target: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  out['host'] = target;
  return out;
}

function hasBody(req: http.IncomingMessage): boolean {
  return req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function nodeHttp(port: number): Handler {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const target = `127.0.0.1:${port}`;
  return (req, res) => {
    const up = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: forwardHeaders(req, target), agent },
      (upRes) => {
        const headers: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(upRes.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
        res.writeHead(upRes.statusCode ?? 502, headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(up);
  };
}

function viaHttpProxy(port: number): Handler {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${port}`, agent, xfwd: false });
  proxy.on('error', (_err, _req, res) => {
    if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  return (req, res) => proxy.web(req, res);
}

function undiciStream(port: number): Handler {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 256, pipelining: 1 });
  const target = `127.0.0.1:${port}`;
  return (req, res) => {
    pool
      .stream(
        {
          path: req.url ?? '/',
          method: req.method as 'GET',
          headers: forwardHeaders(req, target),
          body: hasBody(req) ? req : null,
        },
        ({ statusCode, headers }) => {
          const out: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
          res.writeHead(statusCode, out);
          return res;
        },
      )
      .catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
  };
}

/** undici's lowest layer: a dispatch handler (undici 7's controller API) that writes the chunks as they come. */
function undiciDispatch(port: number): Handler {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 256, pipelining: 1 });
  const target = `127.0.0.1:${port}`;
  return (req, res) => {
    const fail = () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    };
    pool.dispatch(
      {
        path: req.url ?? '/',
        method: req.method as 'GET',
        headers: forwardHeaders(req, target),
        body: hasBody(req) ? req : null,
      },
      {
        // undici takes the controller API only when onRequestStart is there.
        onRequestStart() {},
        onResponseError: fail,
        onResponseStart(controller, statusCode, headers) {
          const out: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
          res.writeHead(statusCode, out);
          res.on('drain', () => controller.resume());
        },
        onResponseData(controller, chunk) {
          if (!res.write(chunk)) controller.pause();
        },
        onResponseEnd() {
          res.end();
        },
      },
    );
  };
}

export function candidateHandler(name: CandidateName, backendPort: number): Handler {
  switch (name) {
    case 'node-http':
      return nodeHttp(backendPort);
    case 'http-proxy':
      return viaHttpProxy(backendPort);
    case 'undici-stream':
      return undiciStream(backendPort);
    case 'undici-dispatch':
      return undiciDispatch(backendPort);
  }
}

/** A node:http listener on 127.0.0.1 around one candidate; resolves to its port. */
export async function serveCandidate(name: CandidateName, backendPort: number): Promise<number> {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, candidateHandler(name, backendPort));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}
