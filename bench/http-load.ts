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
    const onData = (chunk: Buffer) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      for (;;) {
        if (bodyLeft < 0) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buffer.subarray(0, end).toString('latin1');
          status = head.slice(9, 12);
          const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          bodyLeft = method === 'HEAD' || status === '204' || status === '304' ? 0 : Number(length?.[1] ?? 0);
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
