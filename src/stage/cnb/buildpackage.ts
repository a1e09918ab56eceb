import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { escapeId, type BuildpackDescriptor } from '../../buildpack/cnb/buildpack-descriptor.js';
import { BuildpackSet } from '../../buildpack/cnb/buildpack-set.js';
import { buildpackCache } from '../../buildpack/cnb/buildpack-download.js';
import { optionalString, parseToml, table, tables } from '../../buildpack/cnb/toml.js';
import { ComputedImage } from '../../image/computed-image.js';
import type { Layer } from '../../image/types.js';
import { defaultMtime, walkTree } from '../../layer/tree-walk.js';
import type { Digest } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import { parseLocalName } from '../../oci/reference.js';
import type { HistoryEntry, ImageConfig } from '../../oci/types.js';
import type { LocalStore } from '../../store/local-store.js';
import { isoTime } from './exporter.js';
import {
  BUILDPACKAGE_METADATA_LABEL,
  BUILDPACK_LAYERS_LABEL,
  isBuildpackageSpec,
  readBuildpackage,
  type PullImage,
} from './image-buildpacks.js';
import { LayerOutput, type KnownLayer } from '../layer-output.js';

export interface PackageBuildpackOptions {
  /** The buildpack: a directory or a .tgz (pack buildpack package --path). */
  path?: string;
  /** A package.toml (pack buildpack package --config): `[buildpack] uri` and `[[dependencies]] uri | image`. */
  config?: string;
  created?: number;
  /** Pulls a registry buildpackage named as a dependency; returns its local NAME@DIGEST. */
  pull?: PullImage;
}

export interface PackageBuildpackReport {
  image: string;
  digest: Digest;
  id: string;
  version: string;
  layerDiffID: Digest;
  /** Every buildpack in the package (the main one last), each with its layer. */
  buildpacks: { id: string; version: string; layerDiffID: Digest }[];
}

/**
 * `slipway buildpack package` (pack buildpack package): a buildpackage image in the
 * store, one layer per buildpack at /cnb/buildpacks/<id>/<version>/ (the same bytes a
 * builder's layer for it has) and the io.buildpacks.buildpackage.metadata and
 * io.buildpacks.buildpack.layers labels. A package.toml adds its `[[dependencies]]`
 * (directories, .tgz, .cnb files or buildpackage images, all of whose buildpacks are
 * taken). As pack does, every buildpack a composite's order names must be in the
 * package, with its version, and every dependency must be named by some order.
 * Copy it to `oci-archive:X.cnb` for a .cnb file.
 *
 * @example
 *   await packageBuildpack(store, 'bp/hello:1', { path: 'buildpacks/hello' });
 *   await packageBuildpack(store, 'bp/meta:1', { config: 'meta/package.toml' });
 */
export async function packageBuildpack(
  store: LocalStore,
  name: string,
  options: PackageBuildpackOptions,
): Promise<PackageBuildpackReport> {
  const local = parseLocalName(name);
  if (local.digest)
    throw new SlipwayError('INVALID_ARGUMENT', `buildpackage name "${name}" names a digest; give a tag`);
  const { main, dependencies } = await packageContents(store, options);
  validateBuildpacks(main, dependencies);
  const created = options.created ?? defaultMtime();
  return store.withLease(async (lease) => {
    const out = new LayerOutput(lease, new Map<Digest, KnownLayer>());
    const layers: Layer[] = [];
    const history: HistoryEntry[] = [];
    const layerInfo: Record<string, Record<string, Record<string, unknown>>> = {};
    const written: PackageBuildpackReport['buildpacks'] = [];
    for (const bp of [...dependencies, main]) {
      const r = await out.write(() =>
        walkTree(bp.dir, {
          prefix: `cnb/buildpacks/${escapeId(bp.id)}/${bp.version}`,
          includeRoot: true,
          owner: { kind: 'map', uid: 0, gid: 0 },
          mtime: created,
        }),
      );
      layers.push(r.layer);
      history.push({ created: isoTime(created), created_by: `Buildpack: ${bp.id}@${bp.version}` });
      layerInfo[bp.id] = {
        ...layerInfo[bp.id],
        [bp.version]: {
          api: bp.api,
          layerDiffID: r.known.diffId,
          ...(bp.order ? { order: bp.order.map((group) => ({ group })) } : {}),
          ...(bp.homepage ? { homepage: bp.homepage } : {}),
        },
      };
      written.push({ id: bp.id, version: bp.version, layerDiffID: r.known.diffId });
    }
    const config: ImageConfig = {
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      os: 'linux',
      created: isoTime(created),
      config: {
        Labels: {
          [BUILDPACKAGE_METADATA_LABEL]: JSON.stringify({
            id: main.id,
            version: main.version,
            ...(main.homepage ? { homepage: main.homepage } : {}),
            stacks: [{ id: '*' }],
          }),
          [BUILDPACK_LAYERS_LABEL]: JSON.stringify(layerInfo),
        },
      },
      history,
      rootfs: { type: 'layers', diff_ids: [] },
    };
    const image = new ComputedImage({ layers, config, manifestMediaType: MediaType.OciManifest });
    await lease.putBytes(await image.rawConfig());
    await store.putManifest(
      local.name,
      await image.rawManifest(),
      MediaType.OciManifest,
      [local.tag ?? 'latest'],
      lease,
    );
    return {
      image: `${local.name}:${local.tag ?? 'latest'}`,
      digest: await image.digest(),
      id: main.id,
      version: main.version,
      layerDiffID: written[written.length - 1]!.layerDiffID,
      buildpacks: written,
    };
  });
}

/** The main buildpack and the dependencies, each once, sorted by id and version (a stable layer order). */
async function packageContents(
  store: LocalStore,
  options: PackageBuildpackOptions,
): Promise<{ main: BuildpackDescriptor; dependencies: BuildpackDescriptor[] }> {
  const cache = buildpackCache(store.home);
  if (!options.config) {
    if (!options.path)
      throw new SlipwayError('INVALID_ARGUMENT', 'give the buildpack with --path DIR, or a package.toml with --config');
    return { main: await new BuildpackSet().addPath(options.path, cache), dependencies: [] };
  }
  const file = resolve(options.config);
  if (!existsSync(file))
    throw new SlipwayError('NOT_FOUND', `package config ${options.config} does not exist`, { detail: { file } });
  const doc = parseToml(readFileSync(file, 'utf8'), file);
  const base = dirname(file);
  const uri = optionalString(table(doc['buildpack'], `${file} [buildpack]`)['uri'], `${file} buildpack.uri`);
  if (!uri && !options.path)
    throw new SlipwayError('INVALID_DOCUMENT', `${file}: missing buildpack.uri (the buildpack's directory or .tgz)`);
  const main = await new BuildpackSet().addPath(options.path ?? localUri(uri!, base, `${file} buildpack.uri`), cache);
  const found = new Map<string, BuildpackDescriptor>();
  for (const [i, dep] of tables(doc['dependencies'], `${file} [[dependencies]]`).entries()) {
    const what = `${file} dependencies[${i}]`;
    const depUri = optionalString(dep['uri'], `${what}.uri`);
    const image = optionalString(dep['image'], `${what}.image`);
    if ((depUri === undefined) === (image === undefined))
      throw new SlipwayError('INVALID_DOCUMENT', `${what}: give one of uri (a directory, .tgz or .cnb) or image`);
    const ref = image ?? (depUri!.startsWith('docker://') ? depUri! : localUri(depUri!, base, `${what}.uri`));
    if (image !== undefined || ref.startsWith('docker://') || ref.endsWith('.cnb') || isBuildpackageSpec(ref)) {
      // A buildpackage: all of its buildpacks (a composite's components too).
      const pkg = await readBuildpackage(store, ref, options.pull);
      const inner = new BuildpackSet();
      for (const t of pkg.trees) await inner.addTree(t);
      for (const bp of inner.all) found.set(`${bp.id}@${bp.version}`, bp);
    } else {
      const bp = await new BuildpackSet().addPath(ref, cache);
      found.set(`${bp.id}@${bp.version}`, bp);
    }
  }
  found.delete(`${main.id}@${main.version}`);
  const dependencies = [...found.values()].sort((a, b) =>
    a.id === b.id ? (a.version < b.version ? -1 : 1) : a.id < b.id ? -1 : 1,
  );
  return { main, dependencies };
}

/** A package.toml uri as a path: relative to the file, file:// taken off; other schemes are not for here. */
function localUri(uri: string, base: string, what: string): string {
  if (uri.startsWith('file://')) return uri.slice('file://'.length);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri))
    throw new SlipwayError(
      'UNSUPPORTED',
      `${what} "${uri}": give a path (relative to the package.toml), a .cnb file or docker://IMAGE`,
      { detail: { uri } },
    );
  return resolve(base, uri);
}

/**
 * pack's rule for a package: every order entry (of the main buildpack and of each
 * dependency) names a buildpack of the package by id and version, and every
 * dependency is named by some order.
 */
function validateBuildpacks(main: BuildpackDescriptor, dependencies: BuildpackDescriptor[]): void {
  const used = new Map(dependencies.map((d) => [`${d.id}@${d.version}`, false]));
  for (const bp of [main, ...dependencies])
    for (const group of bp.order ?? [])
      for (const entry of group) {
        if (entry.version === undefined)
          throw new SlipwayError(
            'INVALID_DOCUMENT',
            `buildpack ${bp.id} must specify a version when referencing buildpack ${entry.id} (in its [[order.group]])`,
            { detail: { buildpack: bp.id, references: entry.id } },
          );
        const key = `${entry.id}@${entry.version}`;
        if (!used.has(key))
          throw new SlipwayError(
            'INVALID_DOCUMENT',
            `buildpack ${bp.id} references buildpack ${key} which is not present: add it to package.toml as [[dependencies]] uri = "DIR" (or image = "NAME:TAG") and give it with --config`,
            { detail: { buildpack: bp.id, missing: key } },
          );
        used.set(key, true);
      }
  for (const [key, isUsed] of used)
    if (!isUsed)
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `buildpack ${key} is not used by buildpack ${main.id}: take it out of package.toml's [[dependencies]], or name it in an [[order.group]]`,
        { detail: { buildpack: key, main: main.id } },
      );
}
