import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractLayer } from '../layer/extract.js';
import { withLayers } from './mutate.js';
import type { Image, Layer } from './types.js';

/**
 * Squashes an image's layers into one: every layer is applied in order (whiteouts
 * honoured) onto a scratch directory, and `layerFromDirectory` turns the result into
 * the single layer (the caller decides where its bytes are stored). Config, labels
 * and annotations are kept; history becomes one entry.
 */
export async function flatten(
  image: Image,
  layerFromDirectory: (dir: string) => Promise<Layer>,
  options: { tmpDir?: string } = {},
): Promise<Image> {
  const scratch = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'slipway-flatten-'));
  try {
    for (const layer of await image.layers()) await extractLayer(await layer.uncompressed(), scratch);
    const squashed = await layerFromDirectory(scratch);
    const created = (await image.config()).created;
    return withLayers(
      image,
      [squashed],
      [
        {
          ...(created ? { created } : {}),
          created_by: 'slipway flatten',
          comment: `${(await image.layers()).length} layers squashed`,
        },
      ],
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
