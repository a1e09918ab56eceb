import { createReadStream, mkdirSync } from 'node:fs';
import { SlipwayError } from '../errors.js';
import type { TarEntry } from '../layer/entry.js';
import { extractLayer } from '../layer/extract.js';
import { unsafeEntry } from '../layer/path-safety.js';

/**
 * Unpacks a droplet tarball into `dir` with the layer extractor, so a hostile entry
 * (`..`, an absolute path, a symlink on the way, a hardlink out of the tree) is
 * refused, and owners are ignored (the image gives every file the stack user). A
 * device node is refused too: a droplet is files, directories and links, and one the
 * host made as root (a block device of its own disk) has no business in its temp dir.
 * Symlinks are unpacked as symlinks; what reads the tree later follows none.
 */
export async function unpackDroplet(file: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const onEntry = (e: TarEntry) => {
    if (e.type === 'char-device' || e.type === 'block-device')
      throw unsafeEntry(e.path, `it is a ${e.type.replace('-', ' ')}, and a droplet holds none`);
  };
  await extractLayer(createReadStream(file), dir, { owner: 'ignore', onEntry }).catch((err: unknown) => {
    if (err instanceof SlipwayError) throw err;
    throw new SlipwayError(
      'INVALID_ARCHIVE',
      `${file} is not a droplet tarball (gzip tar of ./app, ./staging_info.yml, ...): ${(err as Error).message}`,
      { cause: err },
    );
  });
}
