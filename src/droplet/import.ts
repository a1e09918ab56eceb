import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError, isSlipwayError } from '../errors.js';
import { unpackDroplet } from './unpack.js';
import { defaultMtime } from '../layer/tree-walk.js';
import type { Digest } from '../oci/digest.js';
import { parseLocalName } from '../oci/reference.js';
import { silentProgress, type Progress } from '../progress.js';
import { LayerOutput, knownLayersOf, type KnownLayer } from '../stage/layer-output.js';
import { readLocal } from '../transport/local.js';
import type { LocalStore } from '../store/local-store.js';
import { dropletImage, type DropletImage, type DropletImageInput } from './droplet-image.js';
import type { DropletBuildpack } from './layout.js';
import { readProcessTypes } from './process-types.js';
import { resolveStack } from './stack-run-image.js';

export interface ImportDropletOptions {
  /** Stack name (default: the default stack). */
  stack?: string;
  /** A file of process types (Procfile/YAML map, release output, or CF result.json). */
  processTypesFile?: string;
  processTypes?: Record<string, string>;
  buildpacks?: DropletBuildpack[];
  detectOutput?: string;
  /** Seconds since the epoch (default SOURCE_DATE_EPOCH, else 1980-01-01T00:00:01Z). */
  created?: number;
  labels?: Record<string, string>;
  progress?: Progress;
}

export interface ImportDropletReport {
  repository: string;
  tag: string;
  digest: Digest;
  stack: { name: string; version: string; run: Digest };
  startCommand: string;
  processTypes: Record<string, string>;
  layers: DropletImage['layers'];
}

/**
 * Imports a CF droplet tarball (`cf curl /v3/droplets/GUID/download`) as the image
 * `image` in the local store: the stack's run image with the droplet at /home/vcap.
 * The tarball is unpacked with the layer extractor, so a hostile entry (`..`, an
 * absolute path, a symlink on the way) is refused.
 *
 * @example
 *   await importDroplet(store, 'droplet.tgz', 'apps/web:v1', { stack: 'default' });
 */
export async function importDroplet(
  store: LocalStore,
  file: string,
  image: string,
  options: ImportDropletOptions = {},
): Promise<ImportDropletReport> {
  const tmp = process.env['SLIPWAY_BUILD_TMPDIR'] ?? join(store.home, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const dir = mkdtempSync(join(tmp, 'droplet-'));
  try {
    await unpackDroplet(file, join(dir, 'contents')).catch((err: unknown) => {
      throw notADroplet(file, err);
    });
    return await importDropletDir(store, join(dir, 'contents'), image, options);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An unreadable archive named by its file, with what a droplet is and where one comes from. */
function notADroplet(file: string, err: unknown): unknown {
  if (!isSlipwayError(err, 'INVALID_ARCHIVE') || err.message.includes(file)) return err;
  return new SlipwayError(
    'INVALID_ARCHIVE',
    `${file} is not a droplet tarball (a gzip tar of ./app, ./staging_info.yml, ..., as cf curl /v3/droplets/GUID/download gives it): ${err.message}`,
    { cause: err, detail: { file } },
  );
}

/**
 * Stores a droplet directory (a droplet's contents) as `image`; what import and classic
 * staging share. `dir` must be a directory the host made (a build may have written below
 * it, never replaced it): a symlinked app, deps or deps/IDX, or a staging_info.yml that is
 * not a regular file, is refused with UNSAFE_PATH naming it.
 */
export async function importDropletDir(
  store: LocalStore,
  dir: string,
  image: string,
  options: ImportDropletOptions = {},
): Promise<ImportDropletReport> {
  const { name: repository, tag = 'latest' } = parseLocalName(image);
  const stack = await resolveStack(store, options.stack, options.progress ?? silentProgress);
  const processTypes = {
    ...(options.processTypesFile ? readProcessTypes(options.processTypesFile) : {}),
    ...(options.processTypes ?? {}),
  };
  const built = await store.withLease(async (lease) => {
    // The layers of the image this one replaces are known: an unchanged layer is reused (and reported so).
    const output = new LayerOutput(lease, new Map<Digest, KnownLayer>(await previousLayers(store, repository, tag)));
    const input: DropletImageInput = {
      dir,
      runImage: stack.runImage,
      stack: { name: stack.name, run: stack.run },
      user: stack.user,
      processTypes,
      created: options.created ?? defaultMtime(),
      ...(options.buildpacks ? { buildpacks: options.buildpacks } : {}),
      ...(options.detectOutput ? { detectOutput: options.detectOutput } : {}),
      ...(options.labels ? { labels: options.labels } : {}),
    };
    const result = await dropletImage(output, input);
    await lease.putBytes(await result.image.rawConfig());
    await store.putManifest(repository, await result.image.rawManifest(), await result.image.mediaType(), [tag], lease);
    return result;
  });
  return {
    repository,
    tag,
    digest: await built.image.digest(),
    stack: { name: stack.name, version: stack.version, run: stack.run },
    startCommand: built.startCommand,
    processTypes: built.processTypes,
    layers: built.layers,
  };
}

/** The layers of the image `repository:tag` names now; none when there is no such image. */
async function previousLayers(store: LocalStore, repository: string, tag: string): Promise<[Digest, KnownLayer][]> {
  try {
    const { artifact } = await readLocal(store, repository, tag);
    return artifact.kind === 'image' ? await knownLayersOf(artifact.image) : [];
  } catch (err) {
    if (
      isSlipwayError(err, 'MANIFEST_UNKNOWN') ||
      isSlipwayError(err, 'NAME_UNKNOWN') ||
      isSlipwayError(err, 'NOT_FOUND')
    )
      return [];
    throw err;
  }
}
