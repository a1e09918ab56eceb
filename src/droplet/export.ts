import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import type { Image } from '../image/types.js';
import { extractLayer } from '../layer/extract.js';
import { writeLayer } from '../layer/layer-writer.js';
import type { TarEntry } from '../layer/entry.js';
import { walkTree } from '../layer/tree-walk.js';
import type { Digest } from '../oci/digest.js';
import { DROPLET_LABEL, DROPLET_ROOT, type DropletLabel } from './layout.js';

export interface ExportDropletReport {
  file: string;
  size: number;
  /** sha256 of the tarball, as CC records a droplet's checksum. */
  sha256: Digest;
  startCommand: string;
  processTypes: Record<string, string>;
  detectedBuildpack: string;
}

/** The io.slipway.droplet label of an image; an error naming the image when it has none. */
export async function dropletLabelOf(image: Image, name: string): Promise<DropletLabel> {
  const raw = (await image.config()).config?.Labels?.[DROPLET_LABEL];
  if (!raw)
    throw new SlipwayError(
      'UNSUPPORTED',
      `${name} holds no droplet (no ${DROPLET_LABEL} label): only images made by slipway droplet import or classic staging can be exported as droplets`,
      { detail: { image: name } },
    );
  try {
    return JSON.parse(raw) as DropletLabel;
  } catch (err) {
    throw new SlipwayError('INVALID_DOCUMENT', `${name}: the ${DROPLET_LABEL} label is not JSON`, { cause: err });
  }
}

/**
 * Writes the droplet layers of `image` back as a CF droplet tarball (`./app`,
 * `./deps/IDX`, `./profile.d`, `./staging_info.yml`, `./tmp`, `./logs`), the layout
 * `cf curl -X POST /v3/packages/GUID/droplets` (droplet upload) takes. Its entries
 * are sorted and carry the layers' fixed mtimes, so importing it gives the same image.
 *
 * @example
 *   await exportDroplet(image, 'apps/web:v1', 'web.tgz', tmp);
 */
export async function exportDroplet(
  image: Image,
  name: string,
  file: string,
  tmp: string,
): Promise<ExportDropletReport> {
  const label = await dropletLabelOf(image, name);
  const dir = mkdtempSync(join(tmp, 'droplet-export-'));
  try {
    const root = join(dir, 'rootfs');
    mkdirSync(root);
    for (const diffId of label.layers) {
      const layer = await image.layerByDigest(diffId as Digest);
      await extractLayer(await layer.uncompressed(), root, { owner: 'keep' });
    }
    const contents = join(root, DROPLET_ROOT.slice(1));
    const out = createWriteStream(file);
    const written = await writeLayer(
      dropletEntries(root, contents),
      { write: (c) => new Promise<void>((res, rej) => out.write(c, (e) => (e ? rej(e) : res()))) },
      { compression: 'gzip' },
    );
    await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
    return {
      file,
      size: written.size,
      sha256: written.digest,
      startCommand: label.start_command,
      processTypes: label.process_types,
      detectedBuildpack: label.detected_buildpack,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Entries named as CF's `tar -czf droplet -C contents .` names them: `./`, `./app/...`.
 * The layers are any image's that carries the label, so `home` or `home/vcap` may be a
 * link (to a host directory, were it followed): no component below `root` is.
 */
async function* dropletEntries(root: string, contents: string): AsyncGenerator<TarEntry> {
  let first = true;
  for await (const e of walkTree(contents, { beneath: root, prefix: 'x', includeRoot: true })) {
    if (first) {
      first = false;
      yield { ...e, path: '.' };
      continue;
    }
    yield {
      ...e,
      path: `./${e.path.slice(2)}`,
      ...(e.type === 'hardlink' && e.linkname ? { linkname: `./${e.linkname.slice(2)}` } : {}),
    };
  }
}
