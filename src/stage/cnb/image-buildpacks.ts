import { existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { makeDirOnce } from '../../fs/dir-once.js';
import { SlipwayError, isSlipwayError } from '../../errors.js';
import {
  escapeId,
  readBuildpackDescriptor,
  type BuildpackDescriptor,
} from '../../buildpack/cnb/buildpack-descriptor.js';
import type { Image } from '../../image/types.js';
import { decompressing } from '../../layer/compress.js';
import { extractMembers } from '../../layer/extract.js';
import { safeComponents, unsafeEntry } from '../../layer/path-safety.js';
import { readTar, type TarMember } from '../../layer/tar-reader.js';
import type { Digest } from '../../oci/digest.js';
import { hasRegistryHost, parseLocalName } from '../../oci/reference.js';
import { parseTransport } from '../../oci/transport.js';
import type { LocalStore } from '../../store/local-store.js';
import { withSource } from '../../transport/open.js';
import { readLocal } from '../../transport/local.js';

/** The labels of builder images and buildpackages, as pack writes them (distribution.md). */
export const BUILDER_METADATA_LABEL = 'io.buildpacks.builder.metadata';
export const BUILDPACK_LAYERS_LABEL = 'io.buildpacks.buildpack.layers';
export const BUILDPACK_ORDER_LABEL = 'io.buildpacks.buildpack.order';
export const BUILDPACKAGE_METADATA_LABEL = 'io.buildpacks.buildpackage.metadata';

const BUILDPACKS_PREFIX = 'cnb/buildpacks';

/**
 * Copies a registry image into the local store and returns its local `NAME@DIGEST`.
 * Injected by the face (the copy use case sits above stage/).
 */
export type PullImage = (reference: string) => Promise<string>;

/**
 * The members of a layer under /cnb/buildpacks/, renamed relative to it. Anything
 * else in the layer (the base image's files, /cnb/order.toml) is skipped, but an entry
 * that climbs out ("..", an absolute path) or a hard link to outside /cnb/buildpacks
 * fails the whole layer: a buildpack layer has no business writing elsewhere.
 */
export async function* buildpackMembers(
  members: AsyncIterable<TarMember>,
  prefix: string = BUILDPACKS_PREFIX,
): AsyncGenerator<TarMember> {
  for await (const member of members) {
    const { entry } = member;
    if (entry.path.startsWith('/') || entry.path.split('/').includes('..')) safeComponents(entry.path);
    if (entry.path !== prefix && !entry.path.startsWith(`${prefix}/`)) continue;
    let linkname = entry.linkname;
    if (entry.type === 'hardlink' && linkname !== undefined) {
      if (!linkname.startsWith(`${prefix}/`))
        throw unsafeEntry(entry.path, `it links to "${linkname}", outside /${prefix}`);
      linkname = linkname.slice(prefix.length + 1);
    }
    yield {
      entry: {
        ...entry,
        path: entry.path.slice(prefix.length + 1),
        ...(linkname !== undefined ? { linkname } : {}),
      },
      content: member.content,
    };
  }
}

/** Extracts the buildpacks of one layer (tar, gzip or zstd) into `dir`: `<dir>/<id with / as _>/<version>/`. */
export async function extractBuildpackLayer(tar: Readable, dir: string, prefix = BUILDPACKS_PREFIX): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await extractMembers(buildpackMembers(readTar(await decompressing(tar)), prefix), dir, { owner: 'ignore' });
  // A buildpack dir must be a real directory: a symlink here would point the bind mount anywhere on the host.
  for (const id of readdirSync(dir)) {
    if (!lstatSync(join(dir, id)).isDirectory()) throw unsafeEntry(`${prefix}/${id}`, 'it is not a directory');
    for (const version of readdirSync(join(dir, id))) {
      if (!lstatSync(join(dir, id, version)).isDirectory())
        throw unsafeEntry(`${prefix}/${id}/${version}`, 'it is not a directory');
    }
  }
}

/**
 * The buildpack trees of an image: each layer (or, given `only`, each layer whose
 * diffID is in it) extracted once per store home into `<home>/buildpacks/<diffID hex>/`
 * and reused by every later build. Returns the trees that hold buildpacks.
 */
export async function imageBuildpackTrees(
  home: string,
  image: Image,
  only?: Set<string>,
  kind: 'buildpacks' | 'extensions' = 'buildpacks',
): Promise<string[]> {
  // Image extensions sit at /cnb/extensions/<id>/<version>/ as buildpacks at /cnb/buildpacks/.
  const prefix = `cnb/${kind}`;
  const root = join(home, kind);
  mkdirSync(root, { recursive: true });
  const trees: string[] = [];
  for (const layer of await image.layers()) {
    const diffId = await layer.diffId();
    if (only && !only.has(diffId)) continue;
    const dir = join(root, diffId.slice('sha256:'.length));
    await makeDirOnce(dir, async (tmp) => extractBuildpackLayer(await layer.uncompressed(), tmp, prefix));
    if (readdirSync(dir).length > 0) trees.push(dir);
  }
  return trees;
}

/** The buildpack `<tree>/<escaped id>/<version>` among `trees`, if any. */
export async function findInTrees(
  trees: string[],
  id: string,
  version: string,
): Promise<BuildpackDescriptor | undefined> {
  for (const tree of trees) {
    const dir = join(tree, escapeId(id), version);
    if (existsSync(join(dir, 'buildpack.toml'))) return readBuildpackDescriptor(dir);
  }
  return undefined;
}

/** True when a -b / project.toml buildpack names an image or a .cnb file rather than an id or a path. */
export function isBuildpackageSpec(spec: string): boolean {
  if (spec.startsWith('docker://')) return true;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) return false; // https:// and friends are others' business
  if (spec.endsWith('.cnb')) return true;
  if (spec.startsWith('/') || spec.startsWith('.')) return false;
  // A directory here is a buildpack directory (pack looks on the filesystem first).
  if (existsSync(spec) && lstatSync(spec).isDirectory()) return false;
  // An id has no ":" (id@version has "@" but no ":"); an image name has a tag or a digest, or a registry host.
  return spec.includes(':') || hasRegistryHost(spec);
}

/**
 * Runs `fn` with the image `ref` names: a local store name (NAME[:TAG], NAME@DIGEST),
 * a registry reference (HOST/NAME[:TAG], docker://REF: pulled first with `pull`), or a
 * `.cnb` file (an OCI layout tar). `local` is its local NAME@DIGEST when it is in the store.
 */
export async function withImage<T>(
  store: LocalStore,
  ref: string,
  pull: PullImage | undefined,
  fn: (image: Image, local: { repository: string; digest: Digest } | undefined) => Promise<T>,
): Promise<T> {
  if (ref.endsWith('.cnb') && !ref.startsWith('docker://')) {
    if (!existsSync(ref))
      throw new SlipwayError('NOT_FOUND', `buildpackage ${ref} does not exist`, { detail: { file: ref } });
    return withSource(
      parseTransport(`oci-archive:${ref}`),
      async () => store,
      async ({ artifact }) => {
        if (artifact.kind !== 'image')
          throw new SlipwayError('UNSUPPORTED', `${ref} holds an index, not one image`, { detail: { file: ref } });
        return fn(artifact.image, undefined);
      },
    );
  }
  let localName = ref;
  if (ref.startsWith('docker://') || hasRegistryHost(ref)) {
    if (!pull)
      throw new SlipwayError('UNSUPPORTED', `no registry client was given to pull ${ref} with`, {
        detail: { image: ref },
      });
    localName = await pull(ref.replace(/^docker:\/\//, ''));
  }
  const name = parseLocalName(localName);
  let read: Awaited<ReturnType<typeof readLocal>>;
  try {
    read = await readLocal(store, name.name, name.digest ?? name.tag ?? 'latest');
  } catch (err) {
    if (isSlipwayError(err) && ['NOT_FOUND', 'NAME_UNKNOWN', 'MANIFEST_UNKNOWN'].includes(err.code)) {
      throw new SlipwayError(
        'NOT_FOUND',
        `there is no image ${ref} in the local store (a registry image needs its host, e.g. 127.0.0.1:5000/${name.name})`,
        { cause: err, detail: { image: ref } },
      );
    }
    throw err;
  }
  if (read.artifact.kind !== 'image')
    throw new SlipwayError('UNSUPPORTED', `${ref} is an index; name one platform's image`, { detail: { image: ref } });
  return fn(read.artifact.image, { repository: name.name, digest: read.descriptor.digest });
}

/**
 * A buildpackage (distribution.md: an image labelled io.buildpacks.buildpackage.metadata,
 * one buildpack per layer under /cnb/buildpacks/) made into directories: the trees of
 * all its buildpacks, and the one it is (the label's id and version).
 */
export async function readBuildpackage(
  store: LocalStore,
  ref: string,
  pull: PullImage | undefined,
): Promise<{ buildpack: BuildpackDescriptor; trees: string[] }> {
  return withImage(store, ref, pull, async (image) => {
    const labels = (await image.config()).config?.Labels ?? {};
    const raw = labels[BUILDPACKAGE_METADATA_LABEL];
    if (!raw)
      throw new SlipwayError(
        'INVALID_ARGUMENT',
        `${ref} is not a buildpackage: it has no ${BUILDPACKAGE_METADATA_LABEL} label`,
        { detail: { image: ref } },
      );
    const meta = parseJsonLabel(raw, BUILDPACKAGE_METADATA_LABEL, ref) as { id?: unknown; version?: unknown };
    if (typeof meta.id !== 'string' || typeof meta.version !== 'string')
      throw new SlipwayError('INVALID_DOCUMENT', `${ref}: ${BUILDPACKAGE_METADATA_LABEL} has no id and version`, {
        detail: { image: ref },
      });
    const trees = await imageBuildpackTrees(store.home, image, layersOf(labels));
    const buildpack = await findInTrees(trees, meta.id, meta.version);
    if (!buildpack)
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `buildpackage ${ref} says it is ${meta.id}@${meta.version}, but none of its layers holds /cnb/buildpacks/${escapeId(meta.id)}/${meta.version}`,
        { detail: { image: ref } },
      );
    return { buildpack, trees };
  });
}

/** The diffIDs `io.buildpacks.buildpack.layers` lists ({id: {version: {layerDiffID}}}), or undefined (scan every layer). */
export function layersOf(labels: Record<string, string>, label = BUILDPACK_LAYERS_LABEL): Set<string> | undefined {
  const raw = labels[label];
  if (!raw) return undefined;
  const out = new Set<string>();
  for (const versions of Object.values(
    parseJsonLabel(raw, label, 'image') as Record<string, Record<string, { layerDiffID?: string }>>,
  )) {
    for (const info of Object.values(versions ?? {}))
      if (typeof info?.layerDiffID === 'string') out.add(info.layerDiffID);
  }
  return out;
}

export function parseJsonLabel(raw: string, label: string, image: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new SlipwayError('INVALID_DOCUMENT', `${image}: label ${label} is not JSON`, {
      cause: err,
      detail: { image, label },
    });
  }
}
