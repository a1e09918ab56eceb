/**
 * A child process for the store's multi-process tests (crash.test.ts), run as
 * `node --import tsx store-child.ts MODE HOME [ARGS]`:
 *
 *   crash-loop HOME        stores 20 MB images and tags them, with a GC now and then,
 *                          until killed; prints "ready", then "stored DIGEST" per image.
 *   put-same HOME SEED MB  stores SEED's deterministic MB megabytes as one blob and
 *                          prints "blob DIGEST" (two such processes write the same blob).
 */
import { MediaType } from '../../oci/media-types.js';
import { LocalStore } from '../local-store.js';
import { writeImageBlobs } from './images.js';
import { randomStream } from '../../../test/helpers.js';

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
      return store.putManifest(
        'crash/app',
        image.manifest,
        MediaType.OciManifest,
        ['latest', `p${process.pid}-${i}`],
        lease,
      );
    });
    console.log(`stored ${desc.digest}`);
    if (i % 2 === 1) await store.gc({ linkGraceMs: 0 });
  }
}

async function putSame(seed: string, megabytes: number): Promise<void> {
  const info = await store.withLease(async (lease) => lease.putBlob(await randomStream(seed, megabytes << 20)));
  console.log(`blob ${info.digest}`);
}
