import { PassThrough, type Readable } from 'node:stream';
import { badRequest } from '../../platform/cf-errors.js';

/**
 * A streaming reader of `multipart/form-data` (RFC 7578), for package uploads: fields
 * are collected (up to a limit each), files are handed over as streams while the body
 * arrives, with backpressure, so a large zip never sits in memory. Parts are read in
 * the order they come; a file's handler runs while its bytes flow and is awaited
 * before the next part is read.
 */

export interface MultipartHandlers {
  field(name: string, value: string): void;
  file(name: string, filename: string, body: Readable): Promise<void>;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADERS = 16 * 1024;

/** The boundary of a multipart/form-data content type; 400 when there is none. */
export function boundaryOf(contentType: string | null): string {
  const m = /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw badRequest('the body must be multipart/form-data with a boundary');
  return boundary;
}

export async function readMultipart(
  request: Request,
  handlers: MultipartHandlers,
  maxFieldBytes: number,
): Promise<void> {
  const token = Buffer.from(`\r\n--${boundaryOf(request.headers.get('content-type'))}`);
  if (!request.body) throw badRequest('the multipart body is empty');
  const reader = request.body.getReader();
  // The first boundary has no CRLF before it: start as if one had come.
  let buf: Buffer = Buffer.from(CRLF);
  let ended = false;
  let state: 'preamble' | 'after-boundary' | 'headers' | 'body' | 'done' = 'preamble';
  let part:
    | { name: string; file?: { stream: PassThrough; done: Promise<void> }; chunks: Buffer[]; size: number }
    | undefined;

  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const { done, value } = await reader.read();
    if (done) {
      ended = true;
      return false;
    }
    buf = buf.length === 0 ? Buffer.from(value) : Buffer.concat([buf, value]);
    return true;
  };
  const emit = async (data: Buffer): Promise<void> => {
    if (!part || data.length === 0) return;
    if (part.file) {
      const s = part.file.stream;
      if (s.destroyed) return;
      if (!s.write(data))
        await new Promise<void>((resolve) => {
          s.once('drain', resolve);
          s.once('close', resolve);
        });
      return;
    }
    part.size += data.length;
    if (part.size > maxFieldBytes) throw badRequest(`the field ${part.name} is larger than ${maxFieldBytes} bytes`);
    part.chunks.push(data);
  };
  const finish = async (): Promise<void> => {
    if (!part) return;
    const p = part;
    part = undefined;
    if (p.file) {
      p.file.stream.end();
      await p.file.done;
    } else handlers.field(p.name, Buffer.concat(p.chunks).toString('utf8'));
  };

  try {
    while (state !== 'done') {
      if (state === 'preamble' || state === 'body') {
        const at = buf.indexOf(token);
        if (at >= 0) {
          if (state === 'body') await emit(buf.subarray(0, at));
          buf = buf.subarray(at + token.length);
          await finish();
          state = 'after-boundary';
          continue;
        }
        const keep = token.length - 1;
        if (buf.length > keep) {
          if (state === 'body') await emit(buf.subarray(0, buf.length - keep));
          buf = buf.subarray(buf.length - keep);
        }
        if (!(await more())) throw badRequest('the multipart body ends before its closing boundary');
        continue;
      }
      if (state === 'after-boundary') {
        if (buf.length < 2 && !(await more())) throw badRequest('the multipart body ends after a boundary');
        if (buf.length < 2) continue;
        if (buf[0] === 0x2d && buf[1] === 0x2d) {
          state = 'done';
          continue;
        }
        const eol = buf.indexOf(CRLF);
        if (eol < 0) {
          if (buf.length > 1024 || !(await more())) throw badRequest('a multipart boundary is not followed by CRLF');
          continue;
        }
        if (buf.subarray(0, eol).toString('latin1').trim() !== '')
          throw badRequest('a multipart boundary is malformed');
        buf = buf.subarray(eol + 2);
        state = 'headers';
        continue;
      }
      // headers
      const end = buf.indexOf(HEADER_END);
      if (end < 0) {
        if (buf.length > MAX_HEADERS) throw badRequest('the headers of a multipart part are too large');
        // A part without headers starts right at its body.
        if (buf.subarray(0, 2).equals(CRLF)) {
          buf = buf.subarray(2);
          part = { name: '', chunks: [], size: 0 };
          state = 'body';
          continue;
        }
        if (!(await more())) throw badRequest('the multipart body ends in the headers of a part');
        continue;
      }
      const headers = buf.subarray(0, end).toString('utf8');
      buf = buf.subarray(end + HEADER_END.length);
      const disposition = /^content-disposition:\s*form-data(.*)$/im.exec(headers)?.[1] ?? '';
      const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1] ?? /;\s*name=([^;\s]+)/i.exec(disposition)?.[1] ?? '';
      const filename = /;\s*filename="([^"]*)"/i.exec(disposition)?.[1];
      part = { name, chunks: [], size: 0 };
      if (filename !== undefined) {
        const stream = new PassThrough({ highWaterMark: 1 << 20 });
        const done = handlers.file(name, filename, stream);
        // A handler that fails early stops taking bytes; its error is what the upload answers.
        done.catch(() => stream.destroy());
        part.file = { stream, done };
      }
      state = 'body';
    }
  } catch (err) {
    if (part?.file) {
      part.file.stream.destroy();
      await part.file.done.catch(() => undefined);
    }
    await reader.cancel().catch(() => undefined);
    throw err;
  }
  await reader.cancel().catch(() => undefined);
}
