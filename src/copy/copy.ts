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
import { OciLayout } from '../transport/oci-layout.js';
import { openDestination, withSource, type OpenedSource } from '../transport/open.js';
import type { ContentDestination } from '../transport/destination.js';
import { Registries } from '../registry/client/registries.js';
import { writeArtifact, type WriteOptions, type WriteReport } from '../transport/write-artifact.js';
import { copyReferrers, listReferrers } from './referrers.js';

export interface CopyOptions {
  /** The platform to take from a multi-platform source (default: this host's). */
  platform?: Platform;
  /** Copy a whole index instead of one platform's image. */
  all?: boolean;
  /** Compression for layers that arrive uncompressed (docker archives). */
  compression?: Exclude<Compression, 'none'>;
  progress?: Progress;
  /**
   * Refuse anything that would make the destination's digest differ from the
   * source's (promote): no re-compression, no docker archives (which carry no manifest).
   */
  keepDigest?: boolean;
  /** How registries are reached (credentials, TLS); default: saved logins, no extra CA. */
  registries?: Registries;
  /** Copy the image's referrers (SBOMs, scan results) too; default true. */
  referrers?: boolean;
}

export interface CopyReport {
  source: string;
  destination: string;
  /** Digest of the manifest or index written (for docker-archive: of the image's manifest as read). */
  digest: Digest;
  mediaType: string;
  /** Blobs whose bytes were sent. */
  blobsSent: number;
  /** Blobs the destination already had. */
  blobsSkipped: number;
  /** Blobs a registry linked from the source repository (same registry) without a transfer. */
  blobsMounted: number;
  bytesSent: number;
  /** Referrers of the image copied with it (between the store and registries). */
  referrers?: Digest[];
}

/**
 * A copy's source: any transport, and a droplet too (`droplet:FILE[:STACK]`, imported
 * on a stack's run image by src/droplet: a use case, so it is opened here, above the
 * transports, and loaded only when asked for).
 */
async function openSource<T>(
  src: TransportRef,
  store: () => Promise<LocalStore>,
  registries: Registries,
  fn: (source: OpenedSource) => Promise<T>,
): Promise<T> {
  if (src.transport !== 'droplet') return withSource(src, store, fn, registries);
  const { withDropletSource } = await import('../droplet/source.js');
  return withDropletSource(src.file, src.stack, await store(), fn);
}

/**
 * Copies an image (or with `all` a whole index) between any two transports: the
 * local store, a registry, an OCI layout, an OCI archive, a docker archive.
 * Content-addressed destinations receive the exact bytes, so digests are kept; only
 * uncompressed layers (docker archives) are compressed on the way in. Blobs the
 * destination has are skipped; between two repositories of one registry they are mounted.
 */
export async function copy(
  src: TransportRef,
  destination: TransportRef | ((sourceNames: string[]) => TransportRef),
  store: () => Promise<LocalStore>,
  options: CopyOptions = {},
): Promise<CopyReport> {
  const progress = options.progress ?? silentProgress;
  const registries = options.registries ?? new Registries();
  return openSource(src, store, registries, async (source) => {
    // A destination may depend on the names the source carries (docker archive RepoTags).
    const dst = typeof destination === 'function' ? destination(source.names) : destination;
    if (options.keepDigest) refuseDigestChange(src, dst);
    const artifact =
      dst.transport === 'docker-archive' || !options.all
        ? await pickImage(source.artifact, options.platform)
        : source.artifact;
    const base = { source: formatTransport(src), destination: formatTransport(dst) };
    // The source's referrers are asked for while the image goes (the root keeps its digest unless layers are re-compressed).
    const listed =
      options.referrers !== false && dst.transport !== 'docker-archive'
        ? listReferrers(
            src,
            artifact.kind === 'image' ? await artifact.image.digest() : await artifact.index.digest(),
            store,
            registries,
          )
        : undefined;
    if (dst.transport === 'docker-archive') {
      const { image } = await pickImage(artifact, options.platform);
      const tags = dst.ref ? [dst.ref] : source.names.filter((n) => !n.startsWith('@') && n.includes(':'));
      progress.log(`writing docker archive ${dst.file}`);
      // Loaded for the archive destinations only: tar and zstd's addon cost a registry copy start-up time.
      const { writeDockerArchive } = await import('../transport/docker-archive.js');
      await writeDockerArchive(dst.file, image, tags);
      const { size } = await stat(dst.file);
      return {
        ...base,
        digest: await image.digest(),
        mediaType: await image.mediaType(),
        blobsSent: (await image.layers()).length + 1,
        blobsSkipped: 0,
        blobsMounted: 0,
        bytesSent: size,
      };
    }
    const writeOptions: WriteOptions = {
      progress,
      ...(options.keepDigest ? {} : { compressUncompressed: options.compression ?? 'gzip' }),
    };
    let report: WriteReport;
    if (dst.transport === 'oci-archive') {
      const { directoryMembers, withTempDir, writeArchive } = await import('../transport/archive.js');
      report = await withTempDir('oci-archive-out', async (dir) => {
        const layout = await OciLayout.create(dir);
        const r = await writeTo(layout.destination(dst.ref), artifact, writeOptions);
        progress.log(`packing ${dst.file}`);
        await writeArchive(dst.file, directoryMembers(dir));
        return r;
      });
    } else {
      const dest = await openDestination(dst, store, { registries, ...mountSource(src, dst) });
      if (!dest) throw new SlipwayError('UNSUPPORTED', `cannot write to ${formatTransport(dst)}`);
      report = await writeTo(dest, artifact, writeOptions);
    }
    const { descriptor, ...counts } = report;
    if (options.keepDigest) {
      const expected = artifact.kind === 'image' ? await artifact.image.digest() : await artifact.index.digest();
      if (descriptor.digest !== expected) {
        throw new SlipwayError(
          'CONFLICT',
          `${formatTransport(dst)} holds ${descriptor.digest}, not the source's ${expected}: the destination needed a different manifest`,
        );
      }
    }
    const result: CopyReport = { ...base, digest: descriptor.digest, mediaType: descriptor.mediaType, ...counts };
    if (options.referrers !== false) {
      const referrers = await copyReferrers(src, dst, descriptor.digest, store, registries, listed);
      if (referrers.length > 0) result.referrers = referrers.map((r) => r.digest);
    }
    return result;
  });
}

/**
 * The repository a registry destination may mount blobs from: the source's, within
 * one registry; for a push from the local store, the image's local name, which a
 * registry serving this very store holds the blobs under (Slipway's registry mounts
 * them from there, or from any repository the caller may pull, instead of receiving
 * them again). A registry that cannot mount opens the upload the blob then goes by.
 */
function mountSource(src: TransportRef, dst: TransportRef): { mountFrom?: string } {
  if (dst.transport !== 'docker') return {};
  if (src.transport === 'docker' && src.reference.domain === dst.reference.domain)
    return { mountFrom: src.reference.path };
  if (src.transport === 'local') return { mountFrom: src.name };
  return {};
}

function refuseDigestChange(src: TransportRef, dst: TransportRef): void {
  for (const end of [src, dst]) {
    if (end.transport === 'docker-archive') {
      throw new SlipwayError(
        'CONFLICT',
        `${formatTransport(end)}: a docker archive carries no manifest, so its digest cannot be kept; promote between registries, the local store and OCI layouts, or use slipway copy`,
      );
    }
  }
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
