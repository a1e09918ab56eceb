import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Call } from './context.js';
import type { RegistryError } from './errors.js';

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
export function replyJson(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
  contentType = 'application/json',
): Response {
  const body = Buffer.from(JSON.stringify(value));
  return reply(status, { 'Content-Type': contentType, 'Content-Length': String(body.length), ...headers }, body);
}

/**
 * The request body as chunks (an empty body is no chunks): from Node's socket when
 * there is one. Leaving the loop early (a body over a limit) does not destroy the
 * request, which would take the socket and the error answer with it: the error path
 * settles the rest of the body (unread-body.ts).
 */
export function bodyChunks(call: Call): AsyncIterable<Uint8Array> {
  if (call.node !== undefined) return call.node.incoming.iterator({ destroyOnReturn: false });
  return (call.request.body ?? []) as AsyncIterable<Uint8Array>;
}

/**
 * A response whose body is a Node stream (a blob). Under @hono/node-server it is
 * piped straight into the socket, with backpressure and 1 MiB reads; the adapter is
 * told the response is already sent. Elsewhere (in-process requests) it becomes a web stream.
 */
export async function replyStream(
  call: Call,
  status: number,
  headers: Record<string, string>,
  stream: Readable,
): Promise<Response> {
  if (call.node === undefined) return reply(status, headers, Readable.toWeb(stream) as ReadableStream<Uint8Array>);
  const { outgoing } = call.node;
  outgoing.writeHead(status, { ...API_VERSION, ...headers });
  call.sentStatus = status;
  // A client that goes away mid-blob ends the pipeline with an error: nothing to answer then.
  await pipeline(stream, outgoing).catch(() => undefined);
  return RESPONSE_ALREADY_SENT;
}

/**
 * Reads a whole body of at most `max` bytes (manifests only: every blob is streamed).
 * Refuses early on a larger Content-Length, and stops reading past the limit.
 */
export async function readBounded(call: Call, max: number, tooLarge: (max: number) => RegistryError): Promise<Buffer> {
  const declared = Number(call.request.headers.get('content-length') ?? NaN);
  if (declared > max) throw tooLarge(max);
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of bodyChunks(call)) {
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
