import { createReadStream, mkdirSync } from 'node:fs';
import { SlipwayError } from '../errors.js';
import { extractLayer } from '../layer/extract.js';

/**
 * Unpacks a droplet tarball into `dir` with the layer extractor, so a hostile entry
 * (`..`, an absolute path, a symlink on the way) is refused, and owners are ignored
 * (the image gives every file the stack user).
 */
export async function unpackDroplet(file: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await extractLayer(createReadStream(file), dir, { owner: 'ignore' }).catch((err: unknown) => {
    if (err instanceof SlipwayError) throw err;
    throw new SlipwayError('INVALID_ARCHIVE', `${file} is not a droplet tarball (gzip tar of ./app, ./staging_info.yml, ...): ${(err as Error).message}`, { cause: err });
  });
}
