import { Agent as HttpAgent, type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { SlipwayError } from '../../errors.js';

/** An answer read whole (API answers are small JSON documents). */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface HttpCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** A string (sent with its Content-Length), or a stream (sent chunked, as it comes: an upload). */
  body?: string | Readable;
  /** Accept any TLS certificate (`--skip-ssl-validation`). */
  insecure?: boolean;
}

/** The largest answer read: a list page of 5000 resources fits many times over. */
const MAX_ANSWER_BYTES = 64 << 20;
/** How long a connection may stay silent (connect or answer) before the call fails. */
const IDLE_TIMEOUT_MS = 60_000;

const agents = {
  http: new HttpAgent({ keepAlive: true }),
  https: new HttpsAgent({ keepAlive: true }),
  insecure: new HttpsAgent({ keepAlive: true, rejectUnauthorized: false }),
};

/** TLS errors that mean "this certificate is not trusted", as Go's x509 errors do for the cf CLI. */
const CERT_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * One HTTP request over node:http(s), the answer read whole. A refused connection, a
 * reset or a timeout is IO_ERROR (marked retryable); an untrusted certificate says to
 * use --skip-ssl-validation.
 */
export function send(call: HttpCall): Promise<HttpAnswer> {
  const url = new URL(call.url);
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:')
    return Promise.reject(new SlipwayError('INVALID_ARGUMENT', `${call.url} is not an http or https URL`));
  const headers: Record<string, string> = { ...call.headers };
  if (typeof call.body === 'string') headers['content-length'] = String(Buffer.byteLength(call.body));
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(
      url,
      {
        method: call.method,
        headers,
        agent: secure ? (call.insecure ? agents.insecure : agents.https) : agents.http,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            res.destroy();
            reject(
              new SlipwayError(
                'TOO_LARGE',
                `${call.method} ${call.url}: the answer is larger than ${MAX_ANSWER_BYTES}`,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', (err) => reject(transportError(call, err)));
      },
    );
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => reject(transportError(call, err)));
    const body = call.body;
    if (body === undefined || typeof body === 'string') req.end(body);
    else {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

function transportError(call: HttpCall, err: Error): SlipwayError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const origin = new URL(call.url).origin;
  if (CERT_ERRORS.has(code))
    return new SlipwayError(
      'UNAUTHORIZED',
      `Invalid SSL Cert for ${origin} (${err.message}). TIP: Use 'slipway cf login --skip-ssl-validation' to continue with an insecure API endpoint`,
      { cause: err },
    );
  return new SlipwayError(
    'IO_ERROR',
    `Request error: ${call.method} ${call.url}: ${err.message}. TIP: Is the API at ${origin} running and reachable? Check it with 'slipway cf login -a URL'`,
    { cause: err, detail: { retryable: true } },
  );
}
