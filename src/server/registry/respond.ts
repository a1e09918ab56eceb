import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { SlipwayError } from '../../errors.js';
import type { Call } from './context.js';
import type { RegistryError } from './errors.js';

/** Sent on every response: Docker clients check it on /v2/ to recognise a v2 registry. */
export const API_VERSION = { 'Docker-Distribution-API-Version': 'registry/2.0' } as const;

/** A reply as it was made: what the direct path (app.ts) writes, without reading the Response back. */
export interface ReplyParts {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array | null;
}

const PARTS = Symbol('reply parts');

/** The parts of a Response made by `reply` or `replyParts` (undefined for any other). */
export function partsOf(response: Response): ReplyParts | undefined {
  return (response as Response & { [PARTS]?: ReplyParts })[PARTS];
}

/** A Response carrying its parts. */
export function responseOf(parts: ReplyParts): Response {
  const response = new Response(parts.body, { status: parts.status, headers: parts.headers });
  return Object.assign(response, { [PARTS]: parts });
}

/**
 * A response with the registry's common header. Headers are a plain object, which
 * @hono/node-server writes without building a Headers object (the fast path).
 */
export function reply(
  status: number,
  headers: Record<string, string> = {},
  body: string | Uint8Array | null = null,
): Response {
  return responseOf({ status, headers: { ...API_VERSION, ...headers }, body });
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
  if (call.node === undefined)
    return new Response(Readable.toWeb(stream) as ReadableStream<Uint8Array>, {
      status,
      headers: { ...API_VERSION, ...headers },
    });
  const { outgoing } = call.node;
  outgoing.writeHead(status, { ...API_VERSION, ...headers });
  call.sentStatus = status;
  // A client that goes away mid-blob ends the pipeline with an error: nothing to answer then.
  await pipeline(stream, outgoing).catch(() => undefined);
  return RESPONSE_ALREADY_SENT;
}

/** The reads a blob is sent in; each response reuses two, kept between responses. */
const SEND_CHUNK = 1 << 20;
const MAX_FREE_BUFFERS = 8;
const freeBuffers: Buffer[] = [];

/**
 * A response whose body is `length` bytes of an open file from `start` (a blob): read
 * into two buffers in turn, each written to the socket while the other is read, and
 * reused once the socket has taken it. No stream in between and nothing allocated per
 * read, so a pull costs the two copies (file to buffer, buffer to socket) and little
 * else. The handle is closed here. A client that goes away, or a file that ends short,
 * ends the connection (the client then sees the body cut short, not a wrong one).
 */
export async function replyFile(
  call: Call,
  status: number,
  headers: Record<string, string>,
  file: { handle: FileHandle; start: number; length: number },
): Promise<Response> {
  const { outgoing } = call.node!;
  try {
    outgoing.writeHead(status, { ...API_VERSION, ...headers });
    call.sentStatus = status;
    await sendFile(file.handle, file.start, file.length, outgoing);
  } catch {
    outgoing.destroy();
  } finally {
    await file.handle.close().catch(() => undefined);
  }
  return RESPONSE_ALREADY_SENT;
}

async function sendFile(handle: FileHandle, start: number, length: number, res: ServerResponse): Promise<void> {
  const buffers = [
    freeBuffers.pop() ?? Buffer.allocUnsafeSlow(SEND_CHUNK),
    freeBuffers.pop() ?? Buffer.allocUnsafeSlow(SEND_CHUNK),
  ];
  const writes: (Promise<void> | undefined)[] = [undefined, undefined];
  let position = start;
  let left = length;
  for (let i = 0; left > 0; i ^= 1) {
    await writes[i];
    const buffer = buffers[i]!;
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, left), position);
    if (bytesRead === 0)
      throw new SlipwayError('IO_ERROR', `the blob file ended ${left} bytes before its size`, { detail: { left } });
    position += bytesRead;
    left -= bytesRead;
    writes[i] = writeChunk(res, buffer.subarray(0, bytesRead));
    // Settled when this buffer comes round again (or below); a failure meanwhile must not count as unhandled.
    writes[i]!.catch(() => undefined);
  }
  await Promise.all(writes);
  // Resolves on 'finish', or on 'close' when the client goes as the body ends (end's callback would never run).
  await new Promise<void>((resolve) => {
    res.once('close', resolve);
    res.end(() => {
      res.off('close', resolve);
      resolve();
    });
  });
  // Only buffers no write still holds go back: on an error above they are left to the GC.
  if (freeBuffers.length + buffers.length <= MAX_FREE_BUFFERS) freeBuffers.push(...buffers);
}

/** Resolves once the socket has taken `chunk` (it may be reused then); rejects if the response closes first. */
function writeChunk(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) {
      reject(new Error('the response was closed'));
      return;
    }
    const onClose = () => reject(new Error('the response was closed'));
    res.once('close', onClose);
    res.write(chunk, (err) => {
      res.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
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
