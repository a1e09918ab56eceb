import type { IncomingMessage } from 'node:http';

/**
 * A refused request's unread body up to this size is read and dropped, so its
 * connection stays open: the size of the chunks clients (ours too) PATCH.
 */
const DRAIN_MAX_BYTES = 64 << 20;
/** How long a refused body may take to arrive before the connection is closed instead. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Keeps an HTTP/1.1 connection in step when a request is answered with an error
 * before its body was read (a 416 for an out-of-order chunk, a 401 on a PATCH, a 413
 * mid-manifest): whatever of the body the client still sends would otherwise be read
 * as the next request, or the answer would arrive while the client is still sending.
 * The rest is read and dropped before the answer goes out (the client is sending it
 * anyway, and a socket closed while it sends may lose the answer to a reset); one
 * declared larger than a chunk, or that does not end in time, is not waited for: the
 * answer then carries `Connection: close`, so the client knows not to reuse it.
 *
 * Returns the headers the error response needs (none, or Connection: close).
 */
export async function settleUnreadBody(incoming: IncomingMessage | undefined): Promise<Record<string, string>> {
  // In-process requests (app.request) have no connection; a complete message has no bytes left on the wire.
  if (incoming === undefined || incoming.complete || incoming.destroyed) return {};
  // Unknown (chunked) bodies are drained too, up to the same size.
  const declared = Number(incoming.headers['content-length'] ?? 0);
  if (!(declared <= DRAIN_MAX_BYTES)) return { Connection: 'close' };
  return (await drain(incoming)) ? {} : { Connection: 'close' };
}

/** Reads the rest of the body into nothing; false when it did not end in time (or broke off). */
function drain(incoming: IncomingMessage): Promise<boolean> {
  return new Promise((resolve) => {
    let received = 0;
    const done = (ended: boolean) => {
      clearTimeout(timer);
      incoming.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (!ended) incoming.pause();
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > DRAIN_MAX_BYTES) done(false);
    };
    const onEnd = () => done(true);
    const onError = () => done(false);
    const onClose = () => done(incoming.complete);
    const timer = setTimeout(() => done(false), DRAIN_TIMEOUT_MS);
    incoming.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
    incoming.resume();
  });
}
