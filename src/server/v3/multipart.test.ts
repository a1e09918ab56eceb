import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { readMultipart } from './multipart.js';

/** A request whose body arrives in chunks of the given sizes (cycled). */
function chunked(body: Buffer, contentType: string, sizes: number[]): Request {
  let at = 0;
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= body.length) return c.close();
      const n = sizes[i++ % sizes.length] as number;
      c.enqueue(new Uint8Array(body.subarray(at, at + n)));
      at += n;
    },
  });
  return new Request('http://x/', {
    method: 'POST',
    body: stream,
    headers: { 'content-type': contentType },
    duplex: 'half',
  } as RequestInit);
}

async function read(req: Request, max = 1 << 20) {
  const fields: Record<string, string> = {};
  const files: Record<string, Buffer> = {};
  await readMultipart(
    req,
    {
      field(name, value) {
        fields[name] = value;
      },
      async file(name, _f, body) {
        const parts: Buffer[] = [];
        for await (const c of body) parts.push(c as Buffer);
        files[name] = Buffer.concat(parts);
      },
    },
    max,
  );
  return { fields, files };
}

describe('multipart/form-data, streamed', () => {
  const boundary = 'XyZ-boundary';
  // A file whose bytes hold what looks like a boundary, but is not one.
  const file = Buffer.concat([
    randomBytes(200_000),
    Buffer.from(`\r\n--${boundary.slice(0, -1)}\r\n`),
    randomBytes(1000),
  ]);
  const body = Buffer.concat([
    Buffer.from(`preamble\r\n--${boundary}\r\nContent-Disposition: form-data; name="resources"\r\n\r\n[{"a":1}]\r\n`),
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="bits"; filename="package.zip"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const type = `multipart/form-data; boundary=${boundary}`;

  for (const sizes of [[1], [7, 3, 1], [65536], [body.length]]) {
    it(`fields and files come out whole, in chunks of ${sizes.join(',')}`, async () => {
      const { fields, files } = await read(chunked(body, type, sizes));
      assert.deepEqual(fields, { resources: '[{"a":1}]' });
      assert.ok(files.bits?.equals(file));
    });
  }

  it('a quoted boundary; a body without its closing boundary is 400; a field over the limit is 400', async () => {
    assert.deepEqual((await read(chunked(body, `multipart/form-data; boundary="${boundary}"`, [999]))).fields, {
      resources: '[{"a":1}]',
    });
    await assert.rejects(read(chunked(body.subarray(0, body.length - 10), type, [4096])), /closing boundary/);
    await assert.rejects(read(chunked(body, type, [4096]), 3), /larger than 3 bytes/);
    await assert.rejects(read(chunked(body, 'application/json', [4096])), /multipart\/form-data/);
  });

  it("a file handler's failure is the error, and the rest of the body is not read", async () => {
    const req = chunked(body, type, [1024]);
    await assert.rejects(
      readMultipart(
        req,
        {
          field() {},
          async file(_n, _f, stream) {
            for await (const _ of stream) throw new Error('not a zip');
          },
        },
        1 << 20,
      ),
      /not a zip/,
    );
  });
});
