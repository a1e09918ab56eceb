import { Agent as HttpAgent, request as plainRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as tlsRequest } from 'node:https';
import { Readable } from 'node:stream';

/** What a server answered: status, headers, and the body as a Node stream (read it, or `discard` it). */
export interface HttpResponse {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  body: IncomingMessage;
}

export interface HttpOptions {
  /** The CA certificates (PEM) TLS trusts; as in node:tls, they replace the defaults, so include the system roots. */
  ca?: string[];
}

const MAX_REDIRECTS = 5;

/**
 * Keep-alive HTTP(S) over Node's own client: request and response bodies are Node
 * streams end to end (no web-stream copies), and it costs nothing to load.
 * Redirects are followed (registries send blob GETs to storage), dropping the
 * Authorization header when the redirect leaves the origin.
 */
export class HttpClient {
  readonly #http = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  readonly #https: HttpsAgent;

  constructor(options: HttpOptions = {}) {
    this.#https = new HttpsAgent({ keepAlive: true, maxSockets: 32, ...(options.ca ? { ca: options.ca } : {}) });
  }

  async send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body?: Buffer | Readable,
  ): Promise<HttpResponse> {
    let target = url;
    let verb = method;
    let payload = body;
    const sent = { ...headers };
    for (let redirects = 0; ; redirects++) {
      const res = await this.#exchange(verb, target, sent, payload);
      const location = res.headers.location;
      const replayable = !(payload instanceof Readable);
      if (
        location &&
        [301, 302, 303, 307, 308].includes(res.statusCode ?? 0) &&
        redirects < MAX_REDIRECTS &&
        replayable
      ) {
        res.resume();
        const next = new URL(location, target);
        if (next.origin !== target.origin) delete sent.authorization;
        if (res.statusCode === 303) {
          verb = 'GET';
          payload = undefined;
        }
        target = next;
        continue;
      }
      return wrap(res);
    }
  }

  /** A fetch over this client, for token requests (which may need the same CA). */
  fetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const body = typeof init.body === 'string' ? Buffer.from(init.body) : undefined;
    const res = await this.send(init.method ?? 'GET', url, headers, body);
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
    return new Response(res.status === 204 || res.status === 304 ? null : Buffer.concat(chunks), {
      status: res.status,
      headers: Object.entries(res.body.headers).flatMap(([k, v]) =>
        v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : String(v)] as [string, string]],
      ),
    });
  };

  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }

  #exchange(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Buffer | Readable | undefined,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const tls = url.protocol === 'https:';
      const outgoing = { ...headers };
      if (Buffer.isBuffer(body)) outgoing['content-length'] = String(body.length);
      else if (body === undefined && method !== 'GET' && method !== 'HEAD') outgoing['content-length'] = '0';
      const req = (tls ? tlsRequest : plainRequest)(
        url,
        { method, headers: outgoing, agent: tls ? this.#https : this.#http },
        resolve,
      );
      req.once('error', reject);
      if (body instanceof Readable) {
        body.once('error', (err) => req.destroy(err));
        body.pipe(req);
      } else {
        req.end(body);
      }
    });
  }
}

function wrap(res: IncomingMessage): HttpResponse {
  const status = res.statusCode ?? 0;
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: {
      get(name: string) {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    },
    body: res,
  };
}

/** Reads and drops a response body, so its connection goes back to the pool. */
export function discard(res: HttpResponse): void {
  res.body.resume();
}

/** A response body as text (error bodies, token answers). */
export async function readText(res: HttpResponse): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
