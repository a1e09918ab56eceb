/**
 * Synthetic stacks and app images for the rebase tests and bench/rebase.ts, made with
 * the library (slipway build is written elsewhere): run images whose
 * /etc/os-release and a library change between versions, app layers, and the
 * io.buildpacks.lifecycle.metadata label shaped as the CNB lifecycle writes it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { layerFromDirectory } from '../src/copy/import-rootfs.js';
import { ComputedImage } from '../src/image/computed-image.js';
import { DescribedLayer } from '../src/image/described-layer.js';
import { canonicalJson } from '../src/image/json.js';
import type { Image, Layer } from '../src/image/types.js';
import { append, withAnnotations, withContainerConfig } from '../src/image/mutate.js';
import { MediaType } from '../src/oci/media-types.js';
import type { Digest } from '../src/oci/digest.js';
import type { ImageConfig, Platform } from '../src/oci/types.js';
import type { LocalStore } from '../src/store/local-store.js';
import { readLocal } from '../src/transport/local.js';

export type Files = Record<string, string>;

/** Writes `files` into a fresh directory and makes one gzip layer of it in the store. */
export async function layerOf(store: LocalStore, files: Files): Promise<Layer> {
  const dir = await mkdtemp(join(tmpdir(), 'rebase-layer-'));
  try {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(dir, dirname(path)), { recursive: true });
      // Scripts are executable (the launcher runs in test/rebase-run.test.ts).
      await writeFile(join(dir, path), content, { mode: content.startsWith('#!') ? 0o755 : 0o644 });
    }
    const written = await store.withLease((lease) => layerFromDirectory(lease, dir, 'gzip'));
    return new DescribedLayer(written.mediaType, written.digest, written.size, written.diffId);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** /etc/os-release of run image version `v`. */
export function osRelease(v: string): string {
  return `PRETTY_NAME="Slipway Test Linux ${v}"\nNAME="Slipway Test Linux"\nID=slipwaytest\nVERSION_ID="12"\nPATCH_LEVEL=${v}\n`;
}

export interface RunImageOptions {
  stackId?: string;
  platform?: Platform;
  distro?: { name: string; version: string };
  packages?: Record<string, string>;
  /** Each entry one layer, base first (default: a "distro" layer and a "patch" layer with os-release). */
  layers?: Files[];
  rebasable?: string;
  /** A layer put under the others (a real root filesystem, for images that run). */
  baseLayer?: Layer;
}

/** The default layers of run image version `v`: a base tree and a patch layer that changes per version. */
export function runLayers(v: string): Files[] {
  return [
    { 'bin/true': '#!/bin/sh\n', 'etc/passwd': 'root:x:0:0::/root:/bin/sh\ncnb:x:1000:1000::/home/cnb:/bin/sh\n' },
    { 'etc/os-release': osRelease(v), 'usr/lib/libfoo.so.1': `libfoo ${v}\n` },
  ];
}

/** Stores an image with its config and manifest; its layer blobs are in the store already. */
export async function storeImage(store: LocalStore, repository: string, tags: string[], image: Image): Promise<Digest> {
  return store.withLease(async (lease) => {
    for (const l of await image.layers()) await lease.ensureBlob(await l.digest());
    const raw = await image.rawConfig();
    await lease.putBlob(Readable.from([raw]), { digest: await image.configDigest(), size: raw.length });
    return (await store.putManifest(repository, await image.rawManifest(), await image.mediaType(), tags, lease))
      .digest;
  });
}

/**
 * Makes version `version` of stack `name` in the store as `stack create` lays it out:
 * NAME/run and NAME/build tagged VERSION (and latest), with the CNB base labels and
 * Slipway's package record.
 */
export async function makeStackVersion(
  store: LocalStore,
  name: string,
  version: string,
  options: RunImageOptions = {},
): Promise<{ image: Image; digest: Digest }> {
  const image = await runImage(store, name, version, options);
  const tags = [version, 'latest'];
  const digest = await storeImage(store, `${name}/run`, tags, image);
  await storeImage(store, `${name}/build`, tags, image);
  return { image, digest };
}

/** A run image (not stored). */
export async function runImage(
  store: LocalStore,
  name: string,
  version: string,
  options: RunImageOptions = {},
): Promise<Image> {
  const layers: Layer[] = [];
  if (options.baseLayer) layers.push(options.baseLayer);
  for (const files of options.layers ?? runLayers(version)) layers.push(await layerOf(store, files));
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const distro = options.distro ?? { name: 'slipwaytest', version: '12' };
  const config: ImageConfig = {
    created: '1980-01-01T00:00:01Z',
    ...platform,
    config: {
      User: '1000:1000',
      Env: ['PATH=/usr/bin:/bin', 'CNB_USER_ID=1000', 'CNB_GROUP_ID=1000'],
      Labels: {
        'io.buildpacks.stack.id': options.stackId ?? `io.slipway.stacks.${name}`,
        'io.buildpacks.base.id': options.stackId ?? `io.slipway.stacks.${name}`,
        'io.buildpacks.base.distro.name': distro.name,
        'io.buildpacks.base.distro.version': distro.version,
        'io.buildpacks.base.released': `version ${version}`,
        'io.buildpacks.rebasable': options.rebasable ?? 'true',
        'io.slipway.stack.name': name,
        'io.slipway.stack.role': 'run',
        'io.slipway.stack.packages': JSON.stringify(
          options.packages ?? { libfoo1: `1.${version}`, 'base-files': '12.4' },
        ),
      },
    },
    rootfs: { type: 'layers', diff_ids: [] },
    history: layers.map((_, i) => ({ created: '1980-01-01T00:00:01Z', created_by: `run image ${version} layer ${i}` })),
  };
  return new ComputedImage({ layers, config, manifestMediaType: MediaType.OciManifest });
}

export async function localImage(store: LocalStore, ref: string): Promise<Image> {
  const at = ref.indexOf('@');
  const [name, tag] = at >= 0 ? [ref.slice(0, at), ref.slice(at + 1)] : ref.split(/:(?=[^/]*$)/);
  const { artifact } = await readLocal(store, name!, tag ?? 'latest');
  if (artifact.kind !== 'image') throw new Error(`${ref} is an index`);
  return artifact.image;
}

export interface AppOptions {
  /** What runImage.image records (default NAME/run:latest as the stack's tag). */
  runImageName?: string;
  mirrors?: string[];
  /** The run image reference recorded (default NAME/run@DIGEST). */
  reference?: string;
  rebasable?: 'true' | 'false';
  env?: string[];
  /** Extra labels (or undefined values to drop one). */
  labels?: Record<string, string>;
  /** Leave the lifecycle label out (an image with OCI base annotations only). */
  noLifecycleLabel?: boolean;
  baseAnnotations?: { name: string; digest: string };
}

/** The app layers most tests use: a launcher, a buildpack layer, the app. */
export async function appLayers(store: LocalStore, seed = 'app'): Promise<Layer[]> {
  return [
    // As the CNB launcher takes it: `launcher -- CMD ARGS` runs CMD directly.
    await layerOf(store, { 'cnb/lifecycle/launcher': '#!/bin/sh\nif [ "$1" = "--" ]; then shift; fi\nexec "$@"\n' }),
    await layerOf(store, { 'layers/samples_node/node/bin/node': `node for ${seed}\n` }),
    await layerOf(store, { 'workspace/app.js': `console.log("${seed}")\n` }),
  ];
}

/**
 * io.buildpacks.lifecycle.metadata shaped exactly as the lifecycle's exporter writes it
 * (platform/files LayersMetadata, Platform API 0.12+): every sha a diffID.
 */
export async function lifecycleLabel(
  run: Image,
  layers: Layer[],
  runName: string,
  reference: string,
  mirrors: string[] = [],
): Promise<Record<string, unknown>> {
  const ids = await Promise.all(layers.map((l) => l.diffId()));
  const top = (await run.config()).rootfs.diff_ids.at(-1)!;
  return {
    app: [{ sha: ids[2] }],
    buildpacks: [
      {
        key: 'samples/node',
        version: '0.0.1',
        layers: { node: { sha: ids[1], data: { version: '22.23.3' }, build: false, launch: true, cache: true } },
        store: { metadata: { runs: 1 } },
      },
    ],
    config: { sha: ids[0] },
    launcher: { sha: ids[0] },
    'process-types': { sha: ids[0] },
    runImage: { topLayer: top, reference, image: runName, ...(mirrors.length > 0 ? { mirrors } : {}) },
    stack: { runImage: { image: runName, ...(mirrors.length > 0 ? { mirrors } : {}) } },
  };
}

/** An app image on `run` (stored under repository:tag): run layers, then app layers, CNB labels. */
export async function makeApp(
  store: LocalStore,
  stack: string,
  run: { image: Image; digest: Digest },
  repository: string,
  tag: string,
  layers: Layer[],
  options: AppOptions = {},
): Promise<Digest> {
  let image = await append(
    run.image,
    ...layers.map((layer, i) => ({
      layer,
      history: { created: '1980-01-01T00:00:01Z', created_by: `app layer ${i}` },
    })),
  );
  const runName = options.runImageName ?? `${stack}/run:latest`;
  const reference = options.reference ?? `${stack}/run@${run.digest}`;
  const meta = await lifecycleLabel(run.image, layers, runName, reference, options.mirrors);
  image = await withContainerConfig(image, (c) => {
    const labels: Record<string, string> = { ...(c.Labels ?? {}) };
    for (const k of Object.keys(labels)) if (k.startsWith('io.slipway.stack.')) delete labels[k];
    if (!options.noLifecycleLabel) labels['io.buildpacks.lifecycle.metadata'] = JSON.stringify(meta);
    labels['io.buildpacks.build.metadata'] = JSON.stringify({
      buildpacks: [{ id: 'samples/node', version: '0.0.1' }],
      processes: [{ type: 'web', command: ['node'], args: ['app.js'], direct: true, buildpackID: 'samples/node' }],
    });
    labels['io.buildpacks.rebasable'] = options.rebasable ?? 'true';
    for (const [k, v] of Object.entries(options.labels ?? {})) labels[k] = v;
    return {
      ...c,
      Entrypoint: ['/cnb/lifecycle/launcher'],
      Cmd: ['web'],
      WorkingDir: '/workspace',
      Env: [...(c.Env ?? []), 'CNB_PLATFORM_API=0.12', ...(options.env ?? [])],
      Labels: labels,
    };
  });
  if (options.baseAnnotations) {
    image = await withAnnotations(image, {
      'org.opencontainers.image.base.name': options.baseAnnotations.name,
      'org.opencontainers.image.base.digest': options.baseAnnotations.digest,
    });
  }
  return storeImage(store, repository, [tag], image);
}

/** Stores an OCI index of `images` (stored already) as repository:tag. */
export async function storeIndex(store: LocalStore, repository: string, tag: string, images: Image[]): Promise<Digest> {
  const manifests = [];
  for (const image of images) {
    const config = await image.config();
    const raw = await image.rawManifest();
    manifests.push({
      mediaType: await image.mediaType(),
      digest: await image.digest(),
      size: raw.length,
      platform: { os: config.os, architecture: config.architecture },
    });
  }
  const raw = canonicalJson({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests });
  return (await store.putManifest(repository, raw, MediaType.OciIndex, [tag])).digest;
}
