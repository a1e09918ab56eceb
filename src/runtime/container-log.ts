import { closeSync, existsSync, openSync, readSync } from 'node:fs';

const FOLLOW_POLL_MS = 100;

/**
 * Copies a container's log to `write` from the start; with `follow`, keeps copying
 * what is appended until `running()` says the container ended (and the rest is read).
 */
export async function copyLog(
  path: string,
  write: (chunk: Buffer) => void | Promise<void>,
  options: { follow?: boolean; running?: () => Promise<boolean> } = {},
): Promise<void> {
  if (!existsSync(path)) return;
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(1 << 16);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n > 0) {
        await write(Buffer.from(buf.subarray(0, n)));
        continue;
      }
      if (!options.follow) return;
      // Read once more after the container ended: it may have written just before.
      if (!(await (options.running?.() ?? Promise.resolve(false)))) {
        for (let m = readSync(fd, buf, 0, buf.length, null); m > 0; m = readSync(fd, buf, 0, buf.length, null))
          await write(Buffer.from(buf.subarray(0, m)));
        return;
      }
      await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    }
  } finally {
    closeSync(fd);
  }
}
