import { SlipwayError } from '../errors.js';
import { isIndexMediaType } from '../oci/media-types.js';
import { formatPlatform, hostPlatform, selectManifest } from '../oci/platform.js';
import type { Platform } from '../oci/types.js';
import type { Artifact } from './types.js';

/** The image for `platform` (default: the host's) from an index, following nested indexes. */
export async function pickImage(
  artifact: Artifact,
  platform?: Platform,
): Promise<Extract<Artifact, { kind: 'image' }>> {
  let current: Artifact = artifact;
  const want = platform ?? hostPlatform();
  while (current.kind === 'index') {
    const index = await current.index.index();
    const desc = selectManifest(index, want);
    if (!desc) {
      const have = index.manifests.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')).join(', ');
      throw new SlipwayError(
        'NOT_FOUND',
        `no image for platform ${formatPlatform(want)} in this index (it has: ${have}); pass --platform or --all`,
      );
    }
    current = isIndexMediaType(desc.mediaType)
      ? { kind: 'index', index: await current.index.childIndex(desc) }
      : { kind: 'image', image: await current.index.image(desc) };
  }
  return current;
}
