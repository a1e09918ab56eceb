import { stat } from 'node:fs/promises';
import { SlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Compression } from '../oci/media-types.js';
import type { Platform } from '../oci/types.js';
import { formatTransport, type TransportRef } from '../oci/transport.js';
import type { Artifact } from '../image/types.js';
import { pickImage } from '../image/pick.js';
import type { LocalStore } from '../store/local-store.js';
import { silentProgress, type Progress } from '../progress.js';
import { directoryMembers, withTempDir, writeArchive } from '../transport/archive.js';
import { writeDockerArchive } from '../transport/docker-archive.js';
import { OciLayout } from '../transport/oci-layout.js';
import { openDestination, withSource } from '../transport/open.js';
import type { ContentDestination } from '../transport/destination.js';
import { writeArtifact, type WriteOptions, type WriteReport } from '../transport/write-artifact.js';

export interface CopyOptions {
  /** The platform to take from a multi-platform source (default: this host's). */
  platform?: Platform;
  /** Copy a whole index instead of one platform's image. */
  all?: boolean;
  /** Compression for layers that arrive uncompressed (docker archives). */
  compression?: Exclude<Compression, 'none'>;
  progress?: Progress;
}

export interface CopyReport {
  source: string;
  destination: string;
  /** Digest of the manifest or index written (for docker-archive: of the image's manifest as read). */
  digest: Digest;
  mediaType: string;
  blobsWritten: number;
  blobsSkipped: number;
  bytesWritten: number;
}

/**
 * Copies an image (or with `all` a whole index) between any two transports: the
 * local store, an OCI layout, an OCI archive, a docker archive. Content-addressed
 * destinations receive the exact bytes, so digests are kept; only uncompressed
 * layers (docker archives) are compressed on the way in.
 */
export async function copy(src: TransportRef, destination: TransportRef | ((sourceNames: string[]) => TransportRef), store: () => Promise<LocalStore>, options: CopyOptions = {}): Promise<CopyReport> {
  const progress = options.progress ?? silentProgress;
  return withSource(src, store, async (source) => {
    // A destination may depend on the names the source carries (docker archive RepoTags).
    const dst = typeof destination === 'function' ? destination(source.names) : destination;
    const artifact = dst.transport === 'docker-archive' || !options.all ? await pickImage(source.artifact, options.platform) : source.artifact;
    const base = { source: formatTransport(src), destination: formatTransport(dst) };
    if (dst.transport === 'docker-archive') {
      const { image } = await pickImage(artifact, options.platform);
      const tags = dst.ref ? [dst.ref] : source.names.filter((n) => !n.startsWith('@') && n.includes(':'));
      progress.log(`writing docker archive ${dst.file}`);
      await writeDockerArchive(dst.file, image, tags);
      const { size } = await stat(dst.file);
      return { ...base, digest: await image.digest(), mediaType: await image.mediaType(), blobsWritten: (await image.layers()).length + 1, blobsSkipped: 0, bytesWritten: size };
    }
    const writeOptions: WriteOptions = { progress, compressUncompressed: options.compression ?? 'gzip' };
    let report: WriteReport;
    if (dst.transport === 'oci-archive') {
      report = await withTempDir('oci-archive-out', async (dir) => {
        const layout = await OciLayout.create(dir);
        const r = await writeTo(layout.destination(dst.ref), artifact, writeOptions);
        progress.log(`packing ${dst.file}`);
        await writeArchive(dst.file, directoryMembers(dir));
        return r;
      });
    } else {
      const dest = await openDestination(dst, store);
      if (!dest) throw new SlipwayError('UNSUPPORTED', `cannot write to ${formatTransport(dst)}`);
      report = await writeTo(dest, artifact, writeOptions);
    }
    return { ...base, digest: report.descriptor.digest, mediaType: report.descriptor.mediaType, blobsWritten: report.blobsWritten, blobsSkipped: report.blobsSkipped, bytesWritten: report.bytesWritten };
  });
}

async function writeTo(dest: ContentDestination, artifact: Artifact, options: WriteOptions): Promise<WriteReport> {
  let ok = false;
  try {
    const report = await writeArtifact(dest, artifact, options);
    ok = true;
    return report;
  } finally {
    await dest.close(ok);
  }
}
