/**
 * A small closed-loop HTTP/1.1 load generator for bench/registry.ts, run as its own
 * process so it never shares the server's. wrk 4.1 cannot time HEAD (its parser waits
 * for the Content-Length body a HEAD answer never sends), so this one writes requests
 * on raw keep-alive sockets and reads just enough of each answer: the status line,
 * Content-Length, and (for GET) that many body bytes. One request in flight per
 * connection, no pipelining, as wrk does.
 *
 *   node bench/http-load.ts URL --method HEAD --connections 32 --seconds 10 [--header 'Accept: ...']
 *
 * Prints {"requests":N,"seconds":S,"rps":R,"statuses":{"200":N},"errors":E,"p99ms":P}.
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    method: { type: 'string', default: 'GET' },
    connections: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '10' },
    header: { type: 'string', multiple: true, default: [] },
  },
});
const url = new URL(positionals[0]!);
const method = values.method!.toUpperCase();
const request = Buffer.from(
  `${method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: slipway-bench\r\n${values.header!.map((h) => `${h}\r\n`).join('')}\r\n`,
);
const deadline = performance.now() + Number(values.seconds) * 1000;
const statuses: Record<string, number> = {};
let requests = 0;
let errors = 0;
// Latencies in 0.1 ms buckets up to 10 s, for a percentile without keeping every sample.
const buckets = new Uint32Array(100_001);

const HEAD_END = Buffer.from('\r\n\r\n');
const LENGTH_NAMES = [Buffer.from('\r\nContent-Length:'), Buffer.from('\r\ncontent-length:')];

/** The Content-Length in the head `buffer[0, end)` (either spelling servers send), 0 without one. */
function contentLength(buffer: Buffer, end: number): number {
  for (const name of LENGTH_NAMES) {
    const at = buffer.indexOf(name);
    if (at < 0 || at > end) continue;
    let i = at + name.length;
    while (buffer[i] === 0x20) i++;
    let n = 0;
    for (let c = buffer[i]!; c >= 0x30 && c <= 0x39; c = buffer[++i]!) n = n * 10 + (c - 0x30);
    return n;
  }
  return 0;
}

/** Runs one connection's loop until the deadline; reconnects when the server closes. */
function connection(): Promise<void> {
  return new Promise((resolve) => {
    let socket: Socket;
    let buffer: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    let bodyLeft = -1; // -1: reading headers
    const send = () => {
      if (performance.now() >= deadline) {
        socket.destroy();
        resolve();
        return;
      }
      sentAt = performance.now();
      socket.write(request);
    };
    const done = (status: string) => {
      requests++;
      statuses[status] = (statuses[status] ?? 0) + 1;
      buckets[Math.min(100_000, Math.round((performance.now() - sentAt) * 10))]!++;
      send();
    };
    let status = '';
    // Parsed on the bytes, without decoding the head or a regular expression: at tens of
    // thousands of answers a second this process shares the cores with the server it measures.
    const onData = (chunk: Buffer) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      for (;;) {
        if (bodyLeft < 0) {
          const end = buffer.indexOf(HEAD_END);
          if (end < 0) return;
          status = buffer.toString('latin1', 9, 12);
          bodyLeft = method === 'HEAD' || status === '204' || status === '304' ? 0 : contentLength(buffer, end);
          buffer = buffer.subarray(end + 4);
        }
        if (buffer.length < bodyLeft) return;
        buffer = buffer.subarray(bodyLeft);
        bodyLeft = -1;
        done(status);
        if (buffer.length === 0) return;
      }
    };
    const open = () => {
      buffer = Buffer.alloc(0);
      bodyLeft = -1;
      socket = connect(Number(url.port), url.hostname, send);
      socket.setNoDelay(true);
      socket.on('data', onData);
      socket.on('error', () => errors++);
      socket.on('close', () => {
        if (performance.now() < deadline) open();
        else resolve();
      });
    };
    open();
  });
}

const started = performance.now();
await Promise.all(Array.from({ length: Number(values.connections) }, connection));
const seconds = (performance.now() - started) / 1000;
let seen = 0;
let p99 = 0;
for (let i = 0; i < buckets.length; i++) {
  seen += buckets[i]!;
  if (seen >= requests * 0.99) {
    p99 = i / 10;
    break;
  }
}
console.log(JSON.stringify({ requests, seconds, rps: requests / seconds, statuses, errors, p99ms: p99 }));
