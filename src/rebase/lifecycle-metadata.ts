import { SlipwayError } from '../errors.js';

/** Labels the rebase reads and writes (platform.md "Labels", lifecycle's platform/files). */
export const RebaseLabel = {
  LifecycleMetadata: 'io.buildpacks.lifecycle.metadata',
  Rebasable: 'io.buildpacks.rebasable',
  StackId: 'io.buildpacks.stack.id',
  Mixins: 'io.buildpacks.stack.mixins',
  DistroName: 'io.buildpacks.base.distro.name',
  DistroVersion: 'io.buildpacks.base.distro.version',
} as const;

/** Label prefixes describing the base, copied from the new run image (lifecycle's rebaser syncs these). */
export const BASE_LABEL_PREFIXES = ['io.buildpacks.stack.', 'io.buildpacks.base.'] as const;

/** `runImage` of io.buildpacks.lifecycle.metadata as the lifecycle writes it (Platform API 0.12+). */
export interface RunImageMetadata {
  /** diffID of the run image's top layer: the boundary between base and app layers. */
  topLayer?: string;
  /** The run image the app was exported on: a registry digest reference, or a daemon image ID. */
  reference?: string;
  /** The run image name (a tag reference) the platform resolved. */
  image?: string;
  mirrors?: string[];
}

/**
 * The parts of io.buildpacks.lifecycle.metadata a rebase uses. Every other field
 * (app, buildpacks, launcher, process-types, config, sbom...) is kept as it was,
 * key order included, so a rebase changes only what it must.
 */
export interface LifecycleMetadata {
  runImage?: RunImageMetadata;
  /** The deprecated copy older platforms still read. */
  stack?: { runImage?: { image?: string; mirrors?: string[] } };
  [other: string]: unknown;
}

/**
 * Parses each config's label once: a fleet rebase reads it three times per image (its
 * filter, the run image lookup, the rebase), and the label is often kilobytes. The
 * result is shared: treat it as read-only (updatedLifecycleMetadata copies).
 */
const parsedLabels = new WeakMap<Record<string, string>, { raw: string; meta: LifecycleMetadata }>();

/** Parses the label; undefined when the image has none. */
export function readLifecycleMetadata(labels: Record<string, string> | undefined): LifecycleMetadata | undefined {
  const raw = labels?.[RebaseLabel.LifecycleMetadata];
  if (raw === undefined || labels === undefined) return undefined;
  const cached = parsedLabels.get(labels);
  if (cached?.raw === raw) return cached.meta;
  const meta = parseLifecycleMetadata(raw);
  parsedLabels.set(labels, { raw, meta });
  return meta;
}

function parseLifecycleMetadata(raw: string): LifecycleMetadata {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `the ${RebaseLabel.LifecycleMetadata} label is not JSON: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SlipwayError('INVALID_DOCUMENT', `the ${RebaseLabel.LifecycleMetadata} label is not a JSON object`);
  }
  return parsed as LifecycleMetadata;
}

/** The run image name and mirrors the image recorded (runImage, else the deprecated stack.runImage). */
export function recordedRunImage(meta: LifecycleMetadata | undefined): { image?: string; mirrors: string[] } {
  const image = meta?.runImage?.image || meta?.stack?.runImage?.image || undefined;
  const mirrors = meta?.runImage?.mirrors ?? meta?.stack?.runImage?.mirrors ?? [];
  return { ...(image ? { image } : {}), mirrors };
}

/**
 * The label after a rebase: runImage.topLayer and .reference point at the new run
 * image; with `rename` (a forced rebase onto an image not listed) the name becomes the
 * new image's and mirrors are cleared, as the spec says.
 */
export function updatedLifecycleMetadata(
  meta: LifecycleMetadata,
  update: { topLayer: string; reference: string; rename?: string },
): LifecycleMetadata {
  const runImage: RunImageMetadata = {
    ...(meta.runImage ?? {}),
    topLayer: update.topLayer,
    reference: update.reference,
  };
  if (update.rename !== undefined) {
    runImage.image = update.rename;
    delete runImage.mirrors;
  }
  const out: LifecycleMetadata = { ...meta, runImage };
  if (update.rename !== undefined && meta.stack?.runImage)
    out.stack = { ...meta.stack, runImage: { image: update.rename } };
  return out;
}
