import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { artifactFromBlobs } from '../image/blob-image.js';
import type { Artifact } from '../image/types.js';
import { unpackDroplet } from './unpack.js';
import { defaultMtime } from '../layer/tree-walk.js';
import type { Digest } from '../oci/digest.js';
import { LayerOutput, type KnownLayer } from '../stage/layer-output.js';
import type { LocalStore } from '../store/local-store.js';
import { storeBlobSource } from '../transport/local.js';
import { dropletImage } from './droplet-image.js';
import { resolveStack } from './stack-run-image.js';

/**
 * `droplet:FILE[:STACK]` as a source of `slipway copy`: the droplet is imported as
 * `slipway droplet import` would (same digest), its blobs held in the store under a
 * lease while `fn` reads the image, and nothing tagged.
 *
 * @example
 *   await withDropletSource('web.tgz', undefined, store, async ({ artifact }) => ...);
 */
export async function withDropletSource<T>(
  file: string,
  stack: string | undefined,
  store: LocalStore,
  fn: (src: { artifact: Artifact; names: string[] }) => Promise<T>,
): Promise<T> {
  const tmp = process.env['SLIPWAY_BUILD_TMPDIR'] ?? join(store.home, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const dir = mkdtempSync(join(tmp, 'droplet-'));
  try {
    const contents = join(dir, 'contents');
    await unpackDroplet(file, contents);
    const s = await resolveStack(store, stack);
    return await store.withLease(async (lease) => {
      const built = await dropletImage(new LayerOutput(lease, new Map<Digest, KnownLayer>()), {
        dir: contents,
        runImage: s.runImage,
        stack: { name: s.name, run: s.run },
        user: s.user,
        created: defaultMtime(),
      });
      await lease.putBytes(await built.image.rawConfig());
      const manifest = await built.image.rawManifest();
      const info = await lease.putBytes(manifest);
      const artifact = await artifactFromBlobs(storeBlobSource(store), {
        digest: info.digest,
        mediaType: await built.image.mediaType(),
      });
      return fn({ artifact, names: [] });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
