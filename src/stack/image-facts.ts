import { posix } from 'node:path';
import { readTar } from '../layer/tar-reader.js';
import { WHITEOUT_PREFIX, OPAQUE_WHITEOUT } from '../layer/entry.js';
import type { Image } from '../image/types.js';
import { DPKG_STATUS, OS_RELEASE, factsFrom, type RootfsFacts } from './rootfs-facts.js';

const WANTED = [DPKG_STATUS, ...OS_RELEASE, 'etc/passwd', 'etc/group'];

/**
 * Reads a stack's facts (packages, distro, users) from an image without unpacking it:
 * each layer's tar is scanned, base first, for the few files that matter; a later
 * layer's copy or whiteout wins, as in the unpacked filesystem.
 */
export async function readImageFacts(image: Image, nativeArch?: string): Promise<RootfsFacts> {
  const files = new Map<string, string>();
  for (const layer of await image.layers()) {
    for await (const { entry, content } of readTar(await layer.uncompressed())) {
      const path = entry.path.replace(/^\/+/, '');
      const base = posix.basename(path);
      const dir = posix.dirname(path);
      if (base === OPAQUE_WHITEOUT) {
        for (const f of [...files.keys()]) if (f.startsWith(`${dir}/`)) files.delete(f);
      } else if (base.startsWith(WHITEOUT_PREFIX)) {
        const gone = posix.join(dir, base.slice(WHITEOUT_PREFIX.length));
        for (const f of [...files.keys()]) if (f === gone || f.startsWith(`${gone}/`)) files.delete(f);
      } else if (WANTED.includes(path)) {
        if (entry.type === 'file') {
          const chunks: Buffer[] = [];
          for await (const c of content) chunks.push(c as Buffer);
          files.set(path, Buffer.concat(chunks).toString('utf8'));
        } else {
          files.delete(path); // a symlink (etc/os-release -> ../usr/lib/os-release): the target is read instead
        }
      }
    }
  }
  return factsFrom(
    {
      status: files.get(DPKG_STATUS),
      osRelease: files.get(OS_RELEASE[0]) ?? files.get(OS_RELEASE[1]),
      passwd: files.get('etc/passwd'),
      group: files.get('etc/group'),
    },
    nativeArch,
  );
}
