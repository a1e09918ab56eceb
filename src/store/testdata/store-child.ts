/**
 * A child process for the store's multi-process tests (crash.test.ts), run as
 * `node --import tsx store-child.ts MODE HOME [ARGS]`:
 *
 *   crash-loop HOME        stores 20 MB images and tags them, with a GC now and then,
 *                          until killed; prints "ready", then "stored DIGEST" per image.
 *   put-same HOME SEED MB  stores SEED's deterministic MB megabytes as one blob and
 *                          prints "blob DIGEST" (two such processes write the same blob).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { MediaType } from '../../oci/media-types.js';
import { LocalStore } from '../local-store.js';
import { writeImageBlobs } from './images.js';

const [mode, home, ...args] = process.argv.slice(2);
if (!home) throw new Error('usage: store-child.ts MODE HOME [ARGS]');
const store = await LocalStore.open(home);

if (mode === 'crash-loop') await crashLoop();
else if (mode === 'put-same') await putSame(args[0] ?? 'seed', Number(args[1] ?? 16));
else throw new Error(`unknown mode ${mode}`);
await store.close();

async function crashLoop(): Promise<never> {
  console.log('ready');
  for (let i = 0; ; i++) {
    const desc = await store.withLease(async (lease) => {
      const image = await writeImageBlobs(lease, `round ${process.pid} ${i}`, [20 << 20, 1 << 20]);
      return store.putManifest('crash/app', image.manifest, MediaType.OciManifest, ['latest', `p${process.pid}-${i}`], lease);
    });
    console.log(`stored ${desc.digest}`);
    if (i % 2 === 1) await store.gc({ linkGraceMs: 0 });
  }
}

async function putSame(seed: string, megabytes: number): Promise<void> {
  const info = await store.withLease((lease) => lease.putBlob(seededStream(seed, megabytes << 20)));
  console.log(`blob ${info.digest}`);
}

/** The same pseudo-random bytes for the same seed (AES-CTR over zeros), streamed in 1 MiB chunks. */
function seededStream(seed: string, size: number): Readable {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  let left = size;
  return new Readable({
    read() {
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(n === 0 ? null : cipher.update(zeros.subarray(0, n)));
    },
  });
}
