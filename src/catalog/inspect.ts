import { formatTransport, type TransportRef } from '../oci/transport.js';
import type { Platform } from '../oci/types.js';
import { describeImage, type ImageDescription } from '../image/describe.js';
import type { LocalStore } from '../store/local-store.js';
import { pickImage } from '../image/pick.js';
import { withSource } from '../transport/open.js';

export interface InspectResult extends ImageDescription {
  /** Set when the reference named an index: its digest and media type. */
  index?: { digest: string; mediaType: string; manifests: { digest: string; platform?: Platform }[] };
}

/** Describes the image a reference names (in any transport); for an index, the platform's image. */
export async function inspect(
  ref: TransportRef,
  store: () => Promise<LocalStore>,
  platform?: Platform,
): Promise<InspectResult> {
  return withSource(ref, store, async (source) => {
    const picked = await pickImage(source.artifact, platform);
    const description = await describeImage(formatTransport(ref), picked.image);
    if (source.artifact.kind === 'image') return description;
    const idx = await source.artifact.index.index();
    return {
      ...description,
      index: {
        digest: await source.artifact.index.digest(),
        mediaType: await source.artifact.index.mediaType(),
        manifests: idx.manifests.map((m) => ({ digest: m.digest, ...(m.platform ? { platform: m.platform } : {}) })),
      },
    };
  });
}
