import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { DigestStream, digestHex, digestOf, digestStream, type Digest } from '../oci/digest.js';
import { SlipwayError } from '../errors.js';
import { MediaType } from '../oci/media-types.js';
import type { ImageConfig, ImageManifest } from '../oci/types.js';
import { parseConfig } from '../oci/validate.js';
import { decompressing, sniffCompression } from '../layer/compress.js';
import { canonicalJson } from '../image/json.js';
import { chain } from '../streams.js';
import type { Image, Layer } from '../image/types.js';
import { DescribedLayer } from '../image/described-layer.js';
import { withTempDir, unpackArchive, writeArchive, type ArchiveMember } from './archive.js';

/**
 * docker-archive: the format of `docker save` / `docker load` and `podman load`:
 * a tar holding `manifest.json` ([{Config, RepoTags, Layers}]), the config as
 * `<hex>.json`, and each layer as an uncompressed tar. Written as skopeo writes it
 * (`<diffID hex>.tar` layers plus the legacy `repositories` file).
 */

interface ArchiveManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** Reads the image `ref` names (a RepoTags entry, or `@N`) from an unpacked archive directory. */
export async function readDockerArchiveDir(
  dir: string,
  file: string,
  ref?: string,
): Promise<{ image: Image; repoTags: string[] }> {
  let entries: ArchiveManifestEntry[];
  try {
    entries = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as ArchiveManifestEntry[];
  } catch (err) {
    throw new SlipwayError('INVALID_ARCHIVE', `${file} is not a docker archive: manifest.json is missing or not JSON`, {
      cause: err,
    });
  }
  if (!Array.isArray(entries) || entries.length === 0)
    throw new SlipwayError('INVALID_ARCHIVE', `${file}: manifest.json lists no image`);
  const entry = selectEntry(entries, file, ref);
  const rawConfig = await readFile(join(dir, memberPath(entry.Config, file)));
  const config = parseConfig(rawConfig);
  if (config.rootfs.diff_ids.length !== entry.Layers.length) {
    throw new SlipwayError(
      'INVALID_ARCHIVE',
      `${file}: the config lists ${config.rootfs.diff_ids.length} diff_ids but manifest.json ${entry.Layers.length} layers`,
    );
  }
  const layers = await Promise.all(
    entry.Layers.map((l, i) => FileLayer.load(join(dir, memberPath(l, file)), config.rootfs.diff_ids[i]!)),
  );
  return { image: new ArchiveImage(rawConfig, config, layers), repoTags: entry.RepoTags ?? [] };
}

function selectEntry(entries: ArchiveManifestEntry[], file: string, ref?: string): ArchiveManifestEntry {
  const tags = entries.flatMap((e) => e.RepoTags ?? []);
  if (ref === undefined || ref === '') {
    if (entries.length === 1) return entries[0]!;
    throw new SlipwayError(
      'INVALID_REFERENCE',
      `${file} holds ${entries.length} images; name one as docker-archive:${file}:NAME:TAG or :@N (tags: ${tags.join(', ') || 'none'})`,
    );
  }
  if (/^@\d+$/.test(ref)) {
    const e = entries[Number(ref.slice(1))];
    if (e) return e;
    throw new SlipwayError('NOT_FOUND', `${file} has no image ${ref} (it holds ${entries.length})`);
  }
  const want = familiar(ref);
  const hit = entries.find((e) => (e.RepoTags ?? []).some((t) => familiar(t) === want));
  if (hit) return hit;
  throw new SlipwayError('NOT_FOUND', `${file} has no image tagged "${ref}" (tags: ${tags.join(', ') || 'none'})`);
}

/** docker.io/library/x:t and x:t name the same image. */
function familiar(name: string): string {
  const withTag = /:[\w][\w.-]*$/.test(name.split('/').pop() ?? '') ? name : `${name}:latest`;
  return withTag.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

function memberPath(name: string, file: string): string {
  const norm = posix.normalize(name);
  if (norm.startsWith('/') || norm.startsWith('../') || norm === '..') {
    throw new SlipwayError('UNSAFE_ARCHIVE_ENTRY', `${file}: manifest.json names "${name}", outside the archive`);
  }
  return norm;
}

/** A layer held as a file of an unpacked archive, compressed or not. */
class FileLayer extends DescribedLayer {
  private constructor(
    private readonly path: string,
    mediaType: string,
    digest: Digest,
    size: number,
    diffId: Digest,
  ) {
    super(mediaType, digest, size, diffId);
  }

  static async load(path: string, diffId: Digest): Promise<FileLayer> {
    const { size } = await stat(path);
    const compression = await sniffCompression(createReadStream(path, { start: 0, end: 7 }));
    if (compression === 'none') return new FileLayer(path, MediaType.OciLayer, diffId, size, diffId);
    // Newer `docker save` stores compressed blobs: their digest is of the file as is.
    const { digest } = await digestStream(createReadStream(path));
    const mt = compression === 'gzip' ? MediaType.OciLayerGzip : MediaType.OciLayerZstd;
    return new FileLayer(path, mt, digest, size, diffId);
  }

  override async compressed(): Promise<Readable> {
    return chain(
      createReadStream(this.path, { highWaterMark: 1 << 20 }),
      new DigestStream({ expected: this.d, expectedSize: this.n }),
    );
  }
  override async uncompressed(): Promise<Readable> {
    return chain(
      await decompressing(createReadStream(this.path, { highWaterMark: 1 << 20 })),
      new DigestStream({ expected: this.diff }),
    );
  }
}

/** The image of a docker archive: an OCI manifest synthesised around the archive's own config bytes. */
class ArchiveImage implements Image {
  #built: Promise<{ manifest: ImageManifest; raw: Buffer }> | undefined;

  constructor(
    private readonly rawConfigBytes: Buffer,
    private readonly parsed: ImageConfig,
    private readonly layerList: FileLayer[],
  ) {}

  async mediaType() {
    return MediaType.OciManifest;
  }
  async manifest(): Promise<ImageManifest> {
    return (await this.#build()).manifest;
  }
  async rawManifest() {
    return (await this.#build()).raw;
  }
  async digest() {
    return digestOf(await this.rawManifest());
  }
  async size() {
    const m = await this.manifest();
    return m.config.size + m.layers.reduce((n, l) => n + l.size, 0);
  }
  async config() {
    return this.parsed;
  }
  async rawConfig() {
    return this.rawConfigBytes;
  }
  async configDigest() {
    return digestOf(this.rawConfigBytes);
  }
  async layers(): Promise<Layer[]> {
    return [...this.layerList];
  }
  async layerByDigest(digest: Digest): Promise<Layer> {
    for (const l of this.layerList) if ((await l.digest()) === digest || (await l.diffId()) === digest) return l;
    throw new SlipwayError('BLOB_UNKNOWN', `docker archive image has no layer ${digest}`);
  }

  #build() {
    this.#built ??= (async () => {
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: {
          mediaType: MediaType.OciConfig,
          digest: digestOf(this.rawConfigBytes),
          size: this.rawConfigBytes.length,
        },
        layers: await Promise.all(
          this.layerList.map(async (l) => ({ mediaType: l.mediaType, digest: await l.digest(), size: await l.size() })),
        ),
      };
      return { manifest, raw: canonicalJson(manifest) };
    })();
    return this.#built;
  }
}

/** Opens a docker archive, runs `fn` on its image, and cleans up the unpacked copy. */
export function withDockerArchive<T>(
  file: string,
  ref: string | undefined,
  fn: (image: Image, repoTags: string[]) => Promise<T>,
): Promise<T> {
  return withTempDir('docker-archive', async (dir) => {
    await unpackArchive(file, dir);
    const { image, repoTags } = await readDockerArchiveDir(dir, file, ref);
    return fn(image, repoTags);
  });
}

/**
 * Writes `image` as a docker archive at `file`, tagged `repoTags`. Layers are written
 * uncompressed, as `docker load` expects; each is decompressed twice (once to learn
 * its size for the tar header, once to write it) so nothing is held in memory.
 */
export async function writeDockerArchive(file: string, image: Image, repoTags: string[]): Promise<void> {
  const [rawConfig, configDigest, layers] = await Promise.all([
    image.rawConfig(),
    image.configDigest(),
    image.layers(),
  ]);
  const configName = `${digestHex(configDigest)}.json`;
  const layerNames: string[] = [];
  const members: ArchiveMember[] = [];
  const seen = new Set<string>();
  for (const layer of layers) {
    const name = `${digestHex(await layer.diffId())}.tar`;
    layerNames.push(name);
    if (seen.has(name)) continue;
    seen.add(name);
    const { size } = await digestStream(await layer.uncompressed());
    members.push({ name, size, open: () => layer.uncompressed() });
  }
  const manifest = canonicalJson([{ Config: configName, RepoTags: repoTags, Layers: layerNames }]);
  const repositories: Record<string, Record<string, string>> = {};
  for (const t of repoTags) {
    const i = t.lastIndexOf(':');
    (repositories[t.slice(0, i)] ??= {})[t.slice(i + 1)] = digestHex(configDigest);
  }
  const bytes = (name: string, data: Buffer): ArchiveMember => ({
    name,
    size: data.length,
    open: () => Readable.from([data]),
  });
  await writeArchive(file, [
    bytes(configName, rawConfig),
    ...members,
    bytes('manifest.json', manifest),
    ...(repoTags.length ? [bytes('repositories', canonicalJson(repositories))] : []),
  ]);
}
