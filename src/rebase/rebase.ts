import { SlipwayError } from '../errors.js';
import { Annotation } from '../oci/annotations.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { isIndexMediaType } from '../oci/media-types.js';
import type { Descriptor, ImageConfig, ImageIndex, Platform } from '../oci/types.js';
import { formatPlatform } from '../oci/platform.js';
import { formatTransport, parseTransport, type TransportRef } from '../oci/transport.js';
import { canonicalJson } from '../image/json.js';
import { pickImage } from '../image/pick.js';
import type { Artifact, Image, ImageIndexValue } from '../image/types.js';
import type { LocalStore } from '../store/local-store.js';
import { localDestination } from '../transport/local.js';
import { openDestination, withSource } from '../transport/open.js';
import { Registries } from '../registry/client/registries.js';
import { RemoteDestination } from '../transport/remote-destination.js';
import { readLifecycleMetadata, recordedRunImage } from './lifecycle-metadata.js';
import type { Refusal } from './compatibility.js';
import { rebaseAppImage, type ImageRebaseResult } from './rebase-image.js';
import type { LocalBatch } from './local-batch.js';
import { BaseImages, baseFor, imageAtDigest, type OpenedBase } from './run-image.js';
import { digestReference, parseName, preferredRunImages } from './run-image-name.js';
import {
  BlobPlacement,
  emptyCounts,
  writeRebasedImage,
  type RebaseTarget,
  type TransferCounts,
} from './write-rebased.js';

export interface RebaseOptions {
  /** The new run image (any reference); default: the run image the image recorded, at its current digest. */
  runImage?: string;
  /** The old base, for images that record no boundary (crane's --old_base). */
  oldBase?: string;
  /** Rebase even when a compatibility check fails. */
  force?: boolean;
  /** Work out the result, write nothing. */
  dryRun?: boolean;
  registries?: Registries;
  /**
   * The image is known to be on an older version of the same run image (a fleet rebase
   * matched it by digest): the name it recorded stays, whatever name the new one was read by.
   */
  sameRunImage?: boolean;
  /** Looks at the image before anything else is read; a reason returned skips it (a fleet rebase's "not on this stack"). */
  filter?: (config: ImageConfig) => string | undefined;
  /** Shared across the images of a fleet rebase (which blobs sit where, which run images are open). */
  placement?: BlobPlacement;
  bases?: BaseImages;
  /**
   * A fleet rebase in the local store: an image onto a run image in the store is queued
   * here instead of written (see LocalBatch); `queued` gets the promise of its commit.
   */
  batch?: { writer: LocalBatch; queued: (committed: Promise<Descriptor>) => void };
}

export interface PlatformRebase {
  platform: string;
  status: 'rebased' | 'current' | 'kept';
  digest: Digest;
  previousDigest: Digest;
  from?: ImageRebaseResult['from'];
  to?: ImageRebaseResult['to'];
  appLayers?: number;
}

export interface RebaseReport {
  image: string;
  /** `rebased` (or, with dryRun, would be), `current`: already on the new run image, nothing written; `skipped` by the filter. */
  status: 'rebased' | 'current' | 'skipped';
  /** Why the filter skipped it. */
  reason?: string;
  dryRun: boolean;
  digest: Digest;
  previousDigest: Digest;
  mediaType: string;
  runImage: { name: string; digest: Digest };
  platforms: PlatformRebase[];
  /** Compatibility checks that failed and --force overrode. */
  overridden: Refusal[];
  transfer: TransferCounts;
}

/**
 * Rebases the image `ref` names (local store, registry or OCI layout) onto a new run
 * image and writes the result back under the same reference. Registry images move no
 * layer bytes: the new run image's layers are present or mounted from another
 * repository of the same registry (copied, and reported, only when they live
 * elsewhere), and only the new config and manifest are written. An index is rebased
 * platform by platform.
 *
 * @example
 *   const r = await rebaseImage('myapp:v1', () => LocalStore.open());            // onto the recorded run image's current digest
 *   const r2 = await rebaseImage('127.0.0.1:5000/team/app:v1', open, { runImage: '127.0.0.1:5000/stacks/run:2' });
 */
export async function rebaseImage(
  ref: string | TransportRef,
  store: () => Promise<LocalStore>,
  options: RebaseOptions = {},
): Promise<RebaseReport> {
  const target = typeof ref === 'string' ? parseTransport(ref) : ref;
  const label = formatTransport(target);
  if (target.transport === 'docker-archive' || target.transport === 'oci-archive') {
    throw new SlipwayError(
      'UNSUPPORTED',
      `rebase writes the image back where it is, and ${label} is an archive: copy it into the store or a layout first`,
    );
  }
  const registries = options.registries ?? new Registries();
  const bases = options.bases ?? new BaseImages(store, registries);
  const placement = options.placement ?? new BlobPlacement();
  const appHost = target.transport === 'docker' ? target.reference.domain : undefined;
  // Resolved while the image is read (one round trip less); errors surface where it is awaited.
  if (options.runImage) bases.open(options.runImage).catch(() => undefined);

  return withSource(
    target,
    store,
    async (src) => {
      const ctx: Ctx = { label, options, bases, appHost, overridden: [], runImage: undefined };
      if (options.filter) {
        const first = await firstImage(src.artifact);
        const reason = options.filter(await first.config());
        if (reason !== undefined) {
          const digest = src.descriptor?.digest ?? (await first.digest());
          return {
            image: label,
            status: 'skipped',
            reason,
            dryRun: options.dryRun ?? false,
            digest,
            previousDigest: digest,
            mediaType: src.descriptor?.mediaType ?? '',
            runImage: { name: '', digest: '' as Digest },
            platforms: [],
            overridden: [],
            transfer: emptyCounts(),
          };
        }
      }
      let plan: Plan;
      if (src.artifact.kind === 'image') {
        const r = await rebaseOne(src.artifact.image, ctx);
        plan = {
          kind: 'image',
          images: [r],
          digest: r.result.digest,
          previousDigest: r.result.previousDigest,
          mediaType: await r.result.image.mediaType(),
        };
      } else {
        plan = await rebaseIndex(src.artifact.index, ctx);
      }
      const changed = plan.images.some((p) => p.result.status === 'rebased');
      const transfer = emptyCounts();
      if (changed && !options.dryRun && !(await queueInBatch(target, plan, options.batch, transfer)))
        await writePlan(target, store, registries, placement, plan, transfer);
      const platforms: PlatformRebase[] = [
        ...plan.images.map((p) => ({
          platform: p.platform,
          status: p.result.status,
          digest: p.result.digest,
          previousDigest: p.result.previousDigest,
          from: p.result.from,
          to: p.result.to,
          appLayers: p.result.appLayers,
        })),
        ...(plan.kind === 'index' ? plan.kept : []),
      ];
      const run = ctx.runImage ?? { name: '', digest: '' as Digest };
      return {
        image: label,
        status: changed ? 'rebased' : 'current',
        dryRun: options.dryRun ?? false,
        digest: plan.digest,
        previousDigest: plan.previousDigest,
        mediaType: plan.mediaType,
        runImage: run,
        platforms,
        overridden: ctx.overridden,
        transfer,
      };
    },
    registries,
  );
}

interface Ctx {
  label: string;
  options: RebaseOptions;
  bases: BaseImages;
  appHost: string | undefined;
  overridden: Refusal[];
  runImage: { name: string; digest: Digest } | undefined;
}

interface OneResult {
  platform: string;
  result: ImageRebaseResult;
  base: OpenedBase;
}

type Plan =
  | { kind: 'image'; images: OneResult[]; digest: Digest; previousDigest: Digest; mediaType: string }
  | {
      kind: 'index';
      images: OneResult[];
      kept: PlatformRebase[];
      index: ImageIndex;
      descriptors: Descriptor[];
      raw: Buffer;
      digest: Digest;
      previousDigest: Digest;
      mediaType: string;
    };

/** Rebases one image: finds the new run image (given, recorded, or named by OCI base annotations) and the old base if needed. */
async function rebaseOne(app: Image, ctx: Ctx): Promise<OneResult> {
  const [config, manifest] = await Promise.all([app.config(), app.manifest()]);
  const platform: Platform = {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
  const meta = readLifecycleMetadata(config.config?.Labels);
  const annotatedBase = manifest.annotations?.[Annotation.BaseName];
  const annotatedDigest = manifest.annotations?.[Annotation.BaseDigest] as Digest | undefined;
  const { options, bases } = ctx;

  const base = options.runImage
    ? await bases.open(options.runImage)
    : meta
      ? await bases.openFirst(preferredRunImages(recordedRunImage(meta), ctx.appHost), ctx.label)
      : annotatedBase
        ? await bases.open(annotatedBase)
        : undefined;
  if (!base)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `${ctx.label} records no run image: give the new one with --run-image REF (and the old one with --old-base REF)`,
    );
  let newBase = await baseFor(base, platform);
  const recorded = meta ? recordedRunImage(meta) : undefined;
  if (options.sameRunImage && recorded?.image) {
    // Matched by digest: the run image it names is this one, newer; keep its name and say where it is.
    newBase = {
      ...newBase,
      name: recorded.image,
      reference: digestReference(parseName(recorded.image), newBase.digest),
    };
  }
  ctx.runImage ??= { name: base.name, digest: newBase.digest };

  let oldBase: Image | undefined;
  if (options.oldBase) oldBase = (await pickImage((await bases.open(options.oldBase)).artifact, platform)).image;
  else if (!meta?.runImage?.topLayer && annotatedBase && annotatedDigest)
    oldBase = await imageAtDigest(bases, annotatedBase, annotatedDigest, platform);

  const result = await rebaseAppImage(app, newBase, {
    label: ctx.label,
    ...(options.force ? { force: true } : {}),
    ...(oldBase ? { oldBase } : {}),
  });
  ctx.overridden.push(...result.overridden);
  return { platform: formatPlatform(platform), result, base };
}

/** Rebases every platform image of an index; attestations and nested indexes are kept as they are. */
async function rebaseIndex(index: ImageIndexValue, ctx: Ctx): Promise<Plan> {
  const doc = await index.index();
  const images: OneResult[] = [];
  const kept: PlatformRebase[] = [];
  const descriptors: Descriptor[] = [];
  for (const desc of doc.manifests) {
    const p = desc.platform;
    if (isIndexMediaType(desc.mediaType) || !p || p.os === 'unknown') {
      descriptors.push(desc);
      kept.push({
        platform: p ? formatPlatform(p) : 'unknown',
        status: 'kept',
        digest: desc.digest,
        previousDigest: desc.digest,
      });
      continue;
    }
    const one = await rebaseOne(await index.image(desc), { ...ctx, label: `${ctx.label} (${formatPlatform(p)})` });
    images.push(one);
    ctx.runImage ??= { name: one.base.name, digest: one.base.digest };
    const raw = await one.result.image.rawManifest();
    descriptors.push({
      ...desc,
      mediaType: await one.result.image.mediaType(),
      digest: one.result.digest,
      size: raw.length,
    });
  }
  const previousDigest = await index.digest();
  const changed = images.some((i) => i.result.status === 'rebased');
  const raw = changed ? canonicalJson({ ...doc, manifests: descriptors } satisfies ImageIndex) : await index.rawIndex();
  return {
    kind: 'index',
    images,
    kept,
    index: doc,
    descriptors,
    raw,
    digest: changed ? digestOf(raw) : previousDigest,
    previousDigest,
    mediaType: await index.mediaType(),
  };
}

/**
 * Queues a single-platform image of the local store, rebased onto a run image in the
 * store (so every blob it needs is there), in the fleet's batch; false when it is not
 * such an image and must be written on its own.
 */
async function queueInBatch(
  ref: TransportRef,
  plan: Plan,
  batch: RebaseOptions['batch'],
  counts: TransferCounts,
): Promise<boolean> {
  if (!batch || ref.transport !== 'local' || ref.digest || plan.kind !== 'image') return false;
  const [one] = plan.images;
  if (!one || one.result.status !== 'rebased' || one.base.ref.transport !== 'local') return false;
  const { committed } = await batch.writer.add(ref.name, ref.tag ?? 'latest', one.result.image, counts);
  counts.blobsSkipped += one.result.to.baseLayers;
  batch.queued(committed);
  return true;
}

async function writePlan(
  ref: TransportRef,
  store: () => Promise<LocalStore>,
  registries: Registries,
  placement: BlobPlacement,
  plan: Plan,
  counts: TransferCounts,
): Promise<void> {
  const target = await openTarget(ref, store, registries);
  let ok = false;
  try {
    for (const p of plan.images) {
      if (p.result.status !== 'rebased') continue;
      // The new run image's layers are in its own repository: a registry can mount them from there.
      if (p.base.ref.transport === 'docker') {
        const layers = (await p.result.image.layers()).slice(0, p.result.to.baseLayers);
        for (const l of layers) placement.add(p.base.ref.reference.domain, p.base.ref.reference.path, await l.digest());
      }
      await writeRebasedImage(target, p.result.image, p.result.to.baseLayers, placement, plan.kind === 'image', counts);
    }
    if (plan.kind === 'index') {
      await target.dest.putManifest(plan.raw, plan.mediaType, true);
      counts.manifestsWritten++;
    }
    ok = true;
  } finally {
    await target.dest.close(ok);
  }
}

async function openTarget(
  ref: TransportRef,
  store: () => Promise<LocalStore>,
  registries: Registries,
): Promise<RebaseTarget> {
  switch (ref.transport) {
    case 'local':
      return { dest: await localDestination(await store(), ref.name, ref.digest ? undefined : (ref.tag ?? 'latest')) };
    case 'docker': {
      const { reference } = ref;
      const client = await registries.client(reference.domain, reference.path);
      const tag = reference.digest && !reference.tag ? undefined : (reference.tag ?? 'latest');
      return {
        dest: new RemoteDestination(client, reference.path, tag),
        registry: { client, host: reference.domain, repo: reference.path },
      };
    }
    default: {
      const dest = await openDestination(ref, store, { registries });
      if (!dest) throw new SlipwayError('UNSUPPORTED', `cannot write to ${formatTransport(ref)}`);
      return { dest };
    }
  }
}

/** The image itself, or the first platform image of an index (what a filter looks at). */
async function firstImage(artifact: Artifact): Promise<Image> {
  if (artifact.kind === 'image') return artifact.image;
  const doc = await artifact.index.index();
  const desc = doc.manifests.find((m) => !isIndexMediaType(m.mediaType) && m.platform?.os !== 'unknown');
  if (!desc) throw new SlipwayError('INVALID_DOCUMENT', 'the index holds no platform image');
  return artifact.index.image(desc);
}
