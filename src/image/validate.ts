import { digestOf, digestStream } from '../oci/digest.js';
import { SlipwayError } from '../errors.js';
import { isManifestMediaType, layerCompression } from '../oci/media-types.js';
import { parseConfig, parseManifest } from '../oci/validate.js';
import type { Image } from './types.js';

/**
 * Checks that an image is internally consistent, as ggcr's validate does: the
 * manifest and config parse, every digest and size matches the bytes, every layer's
 * uncompressed bytes hash to its diffID, and history agrees with the layer count.
 * Every test suite runs this on every image it produces. Throws one error listing
 * every problem found.
 */
export async function validateImage(image: Image, options: { layers?: boolean } = {}): Promise<void> {
  const problems: string[] = [];
  const raw = await image.rawManifest();
  const manifest = parseManifest(raw);
  const digest = await image.digest();
  if (digestOf(raw) !== digest) problems.push(`manifest bytes hash to ${digestOf(raw)}, image says ${digest}`);
  const mediaType = await image.mediaType();
  if (!isManifestMediaType(mediaType))
    problems.push(`manifest media type "${mediaType}" is not an image manifest type`);

  const rawConfig = await image.rawConfig();
  if (digestOf(rawConfig) !== manifest.config.digest)
    problems.push(`config bytes hash to ${digestOf(rawConfig)}, manifest says ${manifest.config.digest}`);
  if (rawConfig.length !== manifest.config.size)
    problems.push(`config has ${rawConfig.length} bytes, manifest says ${manifest.config.size}`);
  const config = parseConfig(rawConfig);

  const layers = await image.layers();
  if (layers.length !== manifest.layers.length)
    problems.push(`image has ${layers.length} layers, manifest lists ${manifest.layers.length}`);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    problems.push(`config lists ${config.rootfs.diff_ids.length} diff_ids, manifest ${manifest.layers.length} layers`);
  }
  if (config.history && config.history.length > 0) {
    const nonEmpty = config.history.filter((h) => !h.empty_layer).length;
    if (nonEmpty !== layers.length)
      problems.push(`history has ${nonEmpty} non-empty entries for ${layers.length} layers`);
  }

  for (const [i, layer] of layers.entries()) {
    const desc = manifest.layers[i];
    if (!desc) break;
    const where = `layer ${i} (${desc.digest})`;
    if ((await layer.digest()) !== desc.digest)
      problems.push(`${where}: layer digest ${await layer.digest()} differs from the manifest`);
    if ((await layer.diffId()) !== config.rootfs.diff_ids[i])
      problems.push(`${where}: diffID differs from config rootfs.diff_ids[${i}]`);
    if (layerCompression(desc.mediaType) === undefined)
      problems.push(`${where}: unknown layer media type "${desc.mediaType}"`);
    if (options.layers === false) continue;
    const stored = await digestStream(await layer.compressed());
    if (stored.digest !== desc.digest) problems.push(`${where}: stored bytes hash to ${stored.digest}`);
    if (stored.size !== desc.size) problems.push(`${where}: stored size ${stored.size}, manifest says ${desc.size}`);
    const diff = await digestStream(await layer.uncompressed());
    if (diff.digest !== config.rootfs.diff_ids[i])
      problems.push(`${where}: uncompressed bytes hash to ${diff.digest}, config says ${config.rootfs.diff_ids[i]}`);
  }
  if (problems.length > 0) {
    throw new SlipwayError('INVALID_DOCUMENT', `image ${digest} is invalid:\n  - ${problems.join('\n  - ')}`, {
      detail: { problems },
    });
  }
}
