import { RegistryError } from './errors.js';

type ResponseBody = ConstructorParameters<typeof Response>[0];

/** Sent on every response: Docker clients check it on /v2/ to recognise a v2 registry. */
export const API_VERSION = { 'Docker-Distribution-API-Version': 'registry/2.0' } as const;

/**
 * A response with the registry's common header. Headers are a plain object, which
 * @hono/node-server writes without building a Headers object (the fast path).
 */
export function reply(status: number, headers: Record<string, string> = {}, body: ResponseBody = null): Response {
  return new Response(body, { status, headers: { ...API_VERSION, ...headers } });
}

/** A JSON body with its Content-Type and Content-Length. */
export function replyJson(status: number, value: unknown, headers: Record<string, string> = {}, contentType = 'application/json'): Response {
  const body = Buffer.from(JSON.stringify(value));
  return reply(status, { 'Content-Type': contentType, 'Content-Length': String(body.length), ...headers }, body);
}

/** The request body as chunks (an empty body is no chunks). */
export async function* bodyChunks(request: Request): AsyncGenerator<Uint8Array> {
  if (request.body === null) return;
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) yield chunk;
}

/**
 * Reads a whole body of at most `max` bytes (manifests only: every blob is streamed).
 * Refuses early on a larger Content-Length, and stops reading past the limit.
 */
export async function readBounded(request: Request, max: number, tooLarge: (max: number) => RegistryError): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > max) throw tooLarge(max);
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of bodyChunks(request)) {
    length += chunk.length;
    if (length > max) throw tooLarge(max);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length);
}

/** True when If-None-Match names `etag` (quoted or not): answer 304. */
export function notModified(request: Request, etag: string): boolean {
  const header = request.headers.get('if-none-match');
  if (header === null) return false;
  return header.split(',').some((v) => {
    const value = v.trim();
    return value === etag || value === etag.slice(1, -1) || value === '*';
  });
}
