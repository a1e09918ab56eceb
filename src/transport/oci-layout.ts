import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { DigestStream, digestAlgorithm, digestHex, type Digest } from '../oci/digest.js';
import { SlipwayError, isErrno } from '../errors.js';
import { MediaType } from '../oci/media-types.js';
import { Annotation } from '../oci/annotations.js';
import type { Descriptor, ImageIndex } from '../oci/types.js';
import { parseIndex } from '../oci/validate.js';
import { canonicalJson } from '../image/json.js';
import { chain } from '../streams.js';
import type { BlobSource, OpenOptions } from '../image/blob-source.js';
import type { BlobInfo, Expected } from '../store/types.js';
import type { ContentDestination } from './destination.js';

const LAYOUT_FILE = 'oci-layout';
const LAYOUT_VERSION = '1.0.0';

/**
 * An OCI image layout directory (image-spec image-layout.md): `oci-layout`,
 * `index.json`, `blobs/<alg>/<hex>`. Readable as a BlobSource, writable as a
 * ContentDestination; the reference is the `org.opencontainers.image.ref.name`
 * annotation of an index.json entry, as skopeo and umoci use it.
 */
export class OciLayout implements BlobSource {
  private constructor(readonly dir: string) {}

  /** Opens an existing layout, checking its `oci-layout` file. */
  static async open(dir: string): Promise<OciLayout> {
    let text: string;
    try {
      text = await readFile(join(dir, LAYOUT_FILE), 'utf8');
    } catch (err) {
      throw new SlipwayError('NOT_FOUND', `${dir} is not an OCI image layout: it has no ${LAYOUT_FILE} file`, {
        cause: err,
      });
    }
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch (err) {
      throw new SlipwayError('INVALID_DOCUMENT', `${join(dir, LAYOUT_FILE)} is not valid JSON`, { cause: err });
    }
    if (version !== LAYOUT_VERSION) {
      throw new SlipwayError(
        'UNSUPPORTED',
        `${dir}: imageLayoutVersion "${String(version)}" is not supported (expected ${LAYOUT_VERSION})`,
      );
    }
    return new OciLayout(dir);
  }

  /** Opens a layout, creating an empty one when the directory has none. */
  static async create(dir: string): Promise<OciLayout> {
    await mkdir(join(dir, 'blobs'), { recursive: true });
    try {
      await writeFile(join(dir, LAYOUT_FILE), JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }), { flag: 'wx' });
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      return OciLayout.open(dir);
    }
    const layout = new OciLayout(dir);
    await layout.#writeIndex({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] });
    return layout;
  }

  blobPath(digest: Digest): string {
    return join(this.dir, 'blobs', digestAlgorithm(digest), digestHex(digest));
  }

  async open(digest: Digest, size?: number, options: OpenOptions = {}): Promise<Readable> {
    const path = this.blobPath(digest);
    await this.#statBlob(digest);
    const file = createReadStream(path, { highWaterMark: 1 << 20 });
    return options.consumerVerifies
      ? file
      : chain(file, new DigestStream({ expected: digest, ...(size === undefined ? {} : { expectedSize: size }) }));
  }

  async read(digest: Digest, maxSize = Infinity): Promise<Buffer> {
    const st = await this.#statBlob(digest);
    if (st.size > maxSize)
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `blob ${digest} in ${this.dir} has ${st.size} bytes, more than the ${maxSize} allowed`,
      );
    const chunks: Buffer[] = [];
    for await (const c of await this.open(digest, st.size)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async index(): Promise<ImageIndex> {
    return parseIndex(await readFile(join(this.dir, 'index.json')));
  }

  /**
   * The descriptor `ref` names: the entry whose ref.name annotation equals `ref`, or
   * with no `ref` the only entry. The error lists what the layout does hold.
   */
  async resolve(ref?: string): Promise<Descriptor> {
    const { manifests } = await this.index();
    if (ref === undefined || ref === '') {
      if (manifests.length === 1) return manifests[0]!;
      throw new SlipwayError(
        'INVALID_REFERENCE',
        `${this.dir} holds ${manifests.length} images; name one as oci:${this.dir}:REF (refs: ${refsOf(manifests)})`,
      );
    }
    const hit = manifests.find((m) => m.annotations?.[Annotation.RefName] === ref);
    if (hit) return hit;
    throw new SlipwayError(
      'NOT_FOUND',
      `${this.dir} has no image with reference "${ref}" (refs: ${refsOf(manifests)})`,
    );
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return (await stat(this.blobPath(digest)).catch(() => undefined))?.isFile() ?? false;
  }

  /** Writes a blob through a temporary file, verified, then renamed into place. */
  async putBlob(stream: Readable, expected: Expected = {}): Promise<BlobInfo> {
    const tmpDir = join(this.dir, 'blobs', '.tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, randomBytes(8).toString('hex'));
    const hasher = new DigestStream({
      ...(expected.digest ? { expected: expected.digest } : {}),
      ...(expected.size === undefined ? {} : { expectedSize: expected.size }),
    });
    try {
      // A deep write queue instead of re-chunking: chunks that arrive while a write is
      // in flight go down together in one writev, with no copy into larger buffers.
      await pipeline(stream, hasher, createWriteStream(tmp, { highWaterMark: 4 << 20 }));
      const fh = await open(tmp, 'r');
      await fh.sync().finally(() => fh.close());
      const digest = hasher.digest();
      await mkdir(join(this.dir, 'blobs', digestAlgorithm(digest)), { recursive: true });
      await rename(tmp, this.blobPath(digest));
      return { digest, size: hasher.size };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Adds `desc` to index.json under `ref` (replacing an entry with the same ref), atomically. */
  async addToIndex(desc: Descriptor, ref?: string): Promise<void> {
    const index = await this.index();
    const entry: Descriptor = ref ? { ...desc, annotations: { ...desc.annotations, [Annotation.RefName]: ref } } : desc;
    const kept = index.manifests.filter((m) =>
      ref ? m.annotations?.[Annotation.RefName] !== ref : m.digest !== desc.digest,
    );
    await this.#writeIndex({ ...index, manifests: [...kept, entry] });
  }

  async #writeIndex(index: ImageIndex): Promise<void> {
    const tmp = join(this.dir, `.index.json.${randomBytes(4).toString('hex')}`);
    await writeFile(tmp, canonicalJson(index));
    await rename(tmp, join(this.dir, 'index.json'));
  }

  async #statBlob(digest: Digest) {
    try {
      return await stat(this.blobPath(digest));
    } catch (err) {
      throw new SlipwayError('BLOB_UNKNOWN', `blob ${digest} is missing from the OCI layout ${this.dir}`, {
        cause: err,
      });
    }
  }

  /** A destination writing into this layout and naming the root `ref` in index.json. */
  destination(ref: string | undefined): ContentDestination {
    let root: Descriptor | undefined;
    return {
      label: `oci:${this.dir}${ref ? `:${ref}` : ''}`,
      hasBlob: (d) => this.hasBlob(d),
      putBlob: (s, e) => this.putBlob(s, e),
      putManifest: async (raw, mediaType, isRoot) => {
        const info = await this.putBlobBytes(raw);
        const desc: Descriptor = { mediaType, digest: info.digest, size: info.size };
        if (isRoot) root = desc;
        return desc;
      },
      close: async (ok) => {
        await rm(join(this.dir, 'blobs', '.tmp'), { recursive: true, force: true });
        if (ok && root) await this.addToIndex(root, ref);
      },
    };
  }

  async putBlobBytes(data: Buffer): Promise<BlobInfo> {
    return this.putBlob(Readable.from([data]));
  }
}

function refsOf(manifests: Descriptor[]): string {
  const refs = manifests.map((m) => m.annotations?.[Annotation.RefName]).filter((r): r is string => !!r);
  return refs.length ? refs.join(', ') : 'none';
}
