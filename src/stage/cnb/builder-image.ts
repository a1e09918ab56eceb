import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlipwayError } from '../../errors.js';
import {
  escapeId,
  parseOrder,
  type BuildpackDescriptor,
  type Order,
} from '../../buildpack/cnb/buildpack-descriptor.js';
import { BuildpackSet } from '../../buildpack/cnb/buildpack-set.js';
import { parseBuilderToml, type BuilderConfig } from '../../buildpack/cnb/builder-toml.js';
import { EXTENSION_LAYERS_LABEL, EXTENSION_ORDER_LABEL, builderExtensions } from './builder-extensions.js';
import { buildpackCache, fetchBuildpackUrl } from '../../buildpack/cnb/buildpack-download.js';
import { expandOrder } from '../../buildpack/cnb/order.js';
import { parseToml, toToml } from '../../buildpack/cnb/toml.js';
import { ComputedImage } from '../../image/computed-image.js';
import type { Image, Layer } from '../../image/types.js';
import { decompressing } from '../../layer/compress.js';
import { readTar } from '../../layer/tar-reader.js';
import { defaultMtime, walkTree, type OwnerPolicy } from '../../layer/tree-walk.js';
import type { Digest } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import { parseLocalName } from '../../oci/reference.js';
import type { HistoryEntry, ImageConfig } from '../../oci/types.js';
import { silentProgress, type Progress } from '../../progress.js';
import { ensureDefaultStack } from '../../stack/default-stack.js';
import { latestVersion, stackVersions } from '../../stack/stack-catalog.js';
import type { LocalStore } from '../../store/local-store.js';
import { readLocal } from '../../transport/local.js';
import { isoTime, PLATFORM_API } from './exporter.js';
import {
  BUILDER_METADATA_LABEL,
  BUILDPACK_LAYERS_LABEL,
  BUILDPACK_ORDER_LABEL,
  imageBuildpackTrees,
  isBuildpackageSpec,
  layersOf,
  parseJsonLabel,
  readBuildpackage,
  withImage,
  type PullImage,
} from './image-buildpacks.js';
import { LayerOutput, type KnownLayer } from '../layer-output.js';
import { BUILTIN_BUILDPACKS } from './paths.js';

/** What `createdBy` and `lifecycle` of the builder label say. */
export const SLIPWAY_VERSION = '0.1.0';

export interface CreateBuilderOptions {
  /** pack's builder.toml. */
  config: string;
  /** The stack whose build image the builder extends and whose run image apps get (default: the default stack). */
  stack?: string;
  /** Seconds since the epoch for `created` and file times (default SOURCE_DATE_EPOCH or 1980-01-01T00:00:01Z). */
  created?: number;
  /** Pulls a buildpackage named by a registry reference into the store. */
  pull?: PullImage;
  progress?: Progress;
}

export interface CreateBuilderReport {
  image: string;
  digest: Digest;
  stack: { name: string; version: string; build: Digest; run: Digest };
  runImage: string;
  buildpacks: { id: string; version: string; layerDiffID: Digest }[];
  order: { id: string; version?: string; optional?: boolean }[][];
  /** Image extensions at /cnb/extensions/<id>/<version>/, and [[order-extensions]]. */
  extensions: { id: string; version: string; layerDiffID: Digest }[];
  orderExtensions: { id: string; version?: string; optional?: boolean }[][];
}

/**
 * `slipway builder create` (pack builder create): the stack's build image plus one
 * layer per buildpack at /cnb/buildpacks/<id>/<version>/, a layer with /cnb/order.toml
 * and /cnb/run.toml, and the labels pack writes, stored as NAME[:TAG]. Layers are
 * reproducible, so the same inputs give the same digest.
 *
 * @example
 *   await createBuilder(store, 'builders/mine:1', { config: 'builder/builder.toml' });
 */
export async function createBuilder(
  store: LocalStore,
  name: string,
  options: CreateBuilderOptions,
): Promise<CreateBuilderReport> {
  const progress = options.progress ?? silentProgress;
  const local = parseLocalName(name);
  if (local.digest) throw new SlipwayError('INVALID_ARGUMENT', `builder name "${name}" names a digest; give a tag`);
  if (!existsSync(options.config))
    throw new SlipwayError('NOT_FOUND', `builder config ${options.config} does not exist`, {
      detail: { config: options.config },
    });
  const config = parseBuilderToml(readFileSync(options.config, 'utf8'), options.config);
  const created = options.created ?? defaultMtime();
  const stack = await stackOf(store, options.stack, progress);
  const build = await readLocal(store, `${stack.name}/build`, stack.build);
  if (build.artifact.kind !== 'image')
    throw new SlipwayError('INVALID_DOCUMENT', `stack ${stack.name}: its build image is an index`);
  const buildImage = build.artifact.image;

  const included = await builderBuildpacks(store, config, options.pull);
  // Every buildpack the order reaches (through composites too) must be in the builder.
  const set = new BuildpackSet();
  for (const bp of included) await set.addTree(bp.dir, 0);
  const order = config.order.map((g) => g.map((e) => ({ ...e, version: set.find(e).version })));
  expandOrder(order, (e) => set.find(e));
  const extensionSet = await builderExtensions(config);
  const orderExtensions = config.orderExtensions.map((g) =>
    g.map((e) => ({ ...e, version: extensionSet.find(e).version })),
  );

  const runImage = config.runImages[0] ?? { image: `${stack.name}/run@${stack.run}`, mirrors: [] };
  const root: OwnerPolicy = { kind: 'map', uid: 0, gid: 0 };
  const staging = mkdtempSync(join(tmpdir(), 'slipway-builder-'));
  try {
    return await store.withLease(async (lease) => {
      const out = new LayerOutput(lease, new Map<Digest, KnownLayer>());
      const layers: Layer[] = [];
      const history: HistoryEntry[] = [];
      const layerInfo: Record<string, Record<string, Record<string, unknown>>> = {};
      const reported: CreateBuilderReport['buildpacks'] = [];
      for (const bp of included) {
        progress.log(`adding buildpack ${bp.id}@${bp.version}`);
        const r = await out.write(() =>
          walkTree(bp.dir, {
            prefix: `cnb/buildpacks/${escapeId(bp.id)}/${bp.version}`,
            includeRoot: true,
            owner: root,
            mtime: created,
          }),
        );
        layers.push(r.layer);
        history.push({ created: isoTime(created), created_by: `Buildpack: ${bp.id}@${bp.version}` });
        (layerInfo[bp.id] ??= {})[bp.version] = {
          api: bp.api,
          layerDiffID: r.known.diffId,
          ...(bp.order ? { order: bp.order.map((group) => ({ group })) } : {}),
          ...(bp.homepage ? { homepage: bp.homepage } : {}),
        };
        reported.push({ id: bp.id, version: bp.version, layerDiffID: r.known.diffId });
      }
      const extensionInfo: Record<string, Record<string, Record<string, unknown>>> = {};
      const extensions: CreateBuilderReport['extensions'] = [];
      for (const ext of extensionSet.all) {
        progress.log(`adding image extension ${ext.id}@${ext.version}`);
        const r = await out.write(() =>
          walkTree(ext.dir, {
            prefix: `cnb/extensions/${escapeId(ext.id)}/${ext.version}`,
            includeRoot: true,
            owner: root,
            mtime: created,
          }),
        );
        layers.push(r.layer);
        history.push({ created: isoTime(created), created_by: `Extension: ${ext.id}@${ext.version}` });
        (extensionInfo[ext.id] ??= {})[ext.version] = { api: ext.api, layerDiffID: r.known.diffId };
        extensions.push({ id: ext.id, version: ext.version, layerDiffID: r.known.diffId });
      }
      const cnb = join(staging, 'cnb');
      mkdirSync(cnb, { recursive: true });
      writeFileSync(
        join(cnb, 'order.toml'),
        toToml({
          order: order.map((group) => ({ group })),
          ...(orderExtensions.length ? { 'order-extensions': orderExtensions.map((group) => ({ group })) } : {}),
        }),
      );
      writeFileSync(
        join(cnb, 'run.toml'),
        toToml({
          images: [{ image: runImage.image, ...(runImage.mirrors.length ? { mirrors: runImage.mirrors } : {}) }],
        }),
      );
      const cfg = await out.write(() => walkTree(staging, { owner: root, mtime: created }));
      layers.push(cfg.layer);
      history.push({ created: isoTime(created), created_by: 'Builder: order.toml, run.toml' });

      const base = await buildImage.config();
      const metadata = {
        description: config.description,
        buildpacks: included.map((b) => ({
          id: b.id,
          version: b.version,
          ...(b.homepage ? { homepage: b.homepage } : {}),
        })),
        ...(extensions.length ? { extensions: extensions.map((e) => ({ id: e.id, version: e.version })) } : {}),
        stack: { runImage: { image: runImage.image, mirrors: runImage.mirrors } },
        run: { images: [{ image: runImage.image, ...(runImage.mirrors.length ? { mirrors: runImage.mirrors } : {}) }] },
        lifecycle: {
          version: config.lifecycleVersion ?? SLIPWAY_VERSION,
          apis: {
            buildpack: { deprecated: [], supported: ['0.7', '0.8', '0.9', '0.10', '0.11', '0.12'] },
            platform: { deprecated: [], supported: [PLATFORM_API] },
          },
        },
        createdBy: { name: 'Slipway', version: SLIPWAY_VERSION },
      };
      const imageConfig: ImageConfig = {
        ...base,
        created: isoTime(created),
        config: {
          ...(base.config ?? {}),
          Labels: {
            ...(base.config?.Labels ?? {}),
            [BUILDER_METADATA_LABEL]: JSON.stringify(metadata),
            [BUILDPACK_LAYERS_LABEL]: JSON.stringify(layerInfo),
            [BUILDPACK_ORDER_LABEL]: JSON.stringify(order.map((group) => ({ group }))),
            ...(extensions.length
              ? {
                  [EXTENSION_LAYERS_LABEL]: JSON.stringify(extensionInfo),
                  [EXTENSION_ORDER_LABEL]: JSON.stringify(orderExtensions.map((group) => ({ group }))),
                }
              : {}),
          },
        },
        history: [...(base.history ?? []), ...history],
        rootfs: { type: 'layers', diff_ids: [] },
      };
      const image = new ComputedImage({
        layers: [...(await buildImage.layers()), ...layers],
        config: imageConfig,
        manifestMediaType: MediaType.OciManifest,
      });
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
        stack,
        runImage: runImage.image,
        buildpacks: reported,
        order,
        extensions,
        orderExtensions,
      };
    });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The buildpacks a builder.toml names, each once, sorted by id and version (a stable layer order). */
async function builderBuildpacks(
  store: LocalStore,
  config: BuilderConfig,
  pull: PullImage | undefined,
): Promise<BuildpackDescriptor[]> {
  const cache = buildpackCache(store.home);
  const builtin = new BuildpackSet();
  await builtin.addTree(BUILTIN_BUILDPACKS);
  const found = new Map<string, BuildpackDescriptor>();
  const add = (bp: BuildpackDescriptor) => found.set(`${bp.id}@${bp.version}`, bp);
  for (const entry of config.buildpacks) {
    if (
      entry.uri &&
      (entry.uri.startsWith('docker://') ||
        entry.uri.endsWith('.cnb') ||
        (!existsSync(entry.uri) && entry.rawUri && isBuildpackageSpec(entry.rawUri)))
    ) {
      // A buildpackage: all of its buildpacks (a composite's components too).
      const ref = existsSync(entry.uri) || entry.uri.startsWith('docker://') ? entry.uri : entry.rawUri!;
      const pkg = await readBuildpackage(store, ref, pull);
      const inner = new BuildpackSet();
      for (const t of pkg.trees) await inner.addTree(t);
      inner.all.forEach(add);
    } else if (entry.uri) {
      let path = entry.uri;
      if (/^https?:\/\//.test(entry.uri)) path = (await fetchBuildpackUrl(entry.uri, cache)).path;
      else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry.uri))
        throw new SlipwayError(
          'UNSUPPORTED',
          `builder buildpack uri "${entry.uri}": give a path, an http(s):// archive, a .cnb file or docker://IMAGE`,
          { detail: { uri: entry.uri } },
        );
      add(await new BuildpackSet().addPath(path, cache));
    } else {
      add(builtin.find({ id: entry.id!, ...(entry.version ? { version: entry.version } : {}) }));
    }
  }
  return [...found.values()].sort((a, b) => (a.id === b.id ? (a.version < b.version ? -1 : 1) : a.id < b.id ? -1 : 1));
}

async function stackOf(
  store: LocalStore,
  name: string | undefined,
  progress: Progress,
): Promise<CreateBuilderReport['stack']> {
  if (name === undefined) return ensureDefaultStack(store, { progress });
  const latest = await latestVersion(store, name);
  if (!latest)
    throw new SlipwayError('NOT_FOUND', `there is no stack "${name}": make it with slipway stack create ${name}`, {
      detail: { stack: name },
    });
  return { name, version: latest.version, run: latest.run.digest, build: latest.build.digest };
}

/** A builder image made ready for a staging: its buildpacks as directories, its order, its run image in the store. */
export interface ImageBuilder {
  /** The builder as named by the user. */
  name: string;
  /** Where the build image (the builder itself) is in the local store. */
  repository: string;
  digest: Digest;
  order: Order;
  /** Directories holding `<id>/<version>/` buildpacks, one per buildpack layer. */
  trees: string[];
  /** The same for its image extensions (/cnb/extensions), and its [[order-extensions]]. */
  extensionTrees: string[];
  orderExtensions: Order;
  run: { repository: string; digest: Digest; name: string };
  /** What the staging report calls its stack: the stack of the run image when it is one of the store's. */
  stack: { name: string; version: string; run: Digest; build: Digest };
}

/**
 * Reads a builder image (a local name, or a registry reference pulled with `pull`):
 * its buildpack layers extracted (cached per layer), the order from
 * io.buildpacks.buildpack.order (else /cnb/order.toml), the run image from the
 * builder metadata (else /cnb/run.toml), found in the store or pulled.
 */
export async function readBuilderImage(
  store: LocalStore,
  ref: string,
  pull: PullImage | undefined,
): Promise<ImageBuilder> {
  const { image, local, labels } = await withImage(store, ref, pull, async (image, local) => ({
    image,
    local,
    labels: (await image.config()).config?.Labels ?? {},
  }));
  if (!local)
    throw new SlipwayError('INVALID_ARGUMENT', `builder ${ref} must be an image in the store or a registry`, {
      detail: { builder: ref },
    });
  const rawMeta = labels[BUILDER_METADATA_LABEL];
  if (!rawMeta)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `${ref} is not a builder image: it has no ${BUILDER_METADATA_LABEL} label (make one with slipway builder create)`,
      { detail: { builder: ref } },
    );
  const meta = parseJsonLabel(rawMeta, BUILDER_METADATA_LABEL, ref) as {
    run?: { images?: { image?: string }[] };
    images?: { image?: string }[];
    stack?: { runImage?: { image?: string } };
  };
  const trees = await imageBuildpackTrees(store.home, image, layersOf(labels));
  let order: Order | undefined;
  const rawOrder = labels[BUILDPACK_ORDER_LABEL];
  const files = rawOrder && metaRunImage(meta) ? {} : await cnbFiles(image);
  if (rawOrder)
    order = parseOrder(parseJsonLabel(rawOrder, BUILDPACK_ORDER_LABEL, ref), `${ref} ${BUILDPACK_ORDER_LABEL}`);
  else if (files.order) order = parseOrder(files.order['order'], `${ref} /cnb/order.toml`);
  if (!order)
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `builder ${ref} has no order (no ${BUILDPACK_ORDER_LABEL} label, no /cnb/order.toml)`,
      { detail: { builder: ref } },
    );
  const rawExtOrder = labels[EXTENSION_ORDER_LABEL];
  const orderExtensions = rawExtOrder
    ? parseOrder(parseJsonLabel(rawExtOrder, EXTENSION_ORDER_LABEL, ref), `${ref} ${EXTENSION_ORDER_LABEL}`)
    : files.order?.['order-extensions'] !== undefined
      ? parseOrder(files.order['order-extensions'], `${ref} /cnb/order.toml [[order-extensions]]`)
      : [];
  const extensionLayers = layersOf(labels, EXTENSION_LAYERS_LABEL);
  const extensionTrees =
    orderExtensions.length > 0 ? await imageBuildpackTrees(store.home, image, extensionLayers, 'extensions') : [];
  const runName =
    metaRunImage(meta) ??
    (files.run ? (files.run['images'] as { image?: string }[] | undefined)?.[0]?.image : undefined);
  if (!runName)
    throw new SlipwayError('INVALID_DOCUMENT', `builder ${ref} names no run image (builder metadata, /cnb/run.toml)`, {
      detail: { builder: ref },
    });
  const run = await withImage(store, runName, pull, async (_, l) => l!);
  const runLabelName = runName.replace(/^docker:\/\//, '').replace(/@sha256:[0-9a-f]{64}$/, '');
  const stackName = run.repository.endsWith('/run')
    ? run.repository.slice(0, -'/run'.length)
    : (labels['io.buildpacks.stack.id'] ?? run.repository);
  const version =
    (await stackVersions(store, stackName).catch(() => [])).find((v) => v.run.digest === run.digest)?.version ?? '';
  return {
    name: ref,
    repository: local.repository,
    digest: local.digest,
    order,
    trees,
    extensionTrees,
    orderExtensions,
    run: { ...run, name: runLabelName.replace(/:[^/:]+$/, '') },
    stack: { name: stackName, version, run: run.digest, build: local.digest },
  };
}

function metaRunImage(meta: {
  run?: { images?: { image?: string }[] };
  images?: { image?: string }[];
  stack?: { runImage?: { image?: string } };
}): string | undefined {
  return meta.run?.images?.[0]?.image ?? meta.images?.[0]?.image ?? meta.stack?.runImage?.image;
}

/** /cnb/order.toml and /cnb/run.toml of an image, read from its top layers down. */
async function cnbFiles(image: Image): Promise<{ order?: Record<string, unknown>; run?: Record<string, unknown> }> {
  const out: { order?: Record<string, unknown>; run?: Record<string, unknown> } = {};
  for (const layer of (await image.layers()).reverse()) {
    for await (const { entry, content } of readTar(await decompressing(await layer.uncompressed()))) {
      const key = entry.path === 'cnb/order.toml' ? 'order' : entry.path === 'cnb/run.toml' ? 'run' : undefined;
      if (!key || out[key] || entry.type !== 'file' || entry.size > 1 << 20) continue;
      const chunks: Buffer[] = [];
      for await (const c of content) chunks.push(c as Buffer);
      out[key] = parseToml(Buffer.concat(chunks).toString('utf8'), `/cnb/${key}.toml`);
    }
    if (out.order && out.run) break;
  }
  return out;
}
