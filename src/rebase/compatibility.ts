import { SlipwayError } from '../errors.js';
import type { ImageConfig } from '../oci/types.js';
import { RebaseLabel } from './lifecycle-metadata.js';
import { sameRepository } from './run-image-name.js';

/** One reason a rebase is not safe, as the CNB platform spec's rebaser checks them. */
export interface Refusal {
  check: 'rebasable' | 'stack-id' | 'mixins' | 'os' | 'arch' | 'variant' | 'distro' | 'run-image';
  message: string;
}

/** A rebase refused by a compatibility check; every one of them can be overridden with --force, as the spec allows. */
export class RebaseRefused extends SlipwayError {
  readonly refusals: Refusal[];

  constructor(image: string, refusals: Refusal[]) {
    super(
      'CONFLICT',
      `refusing to rebase ${image}: ${refusals.map((r) => r.message).join('; ')}. Pass --force to rebase anyway`,
      {
        detail: { refusals },
      },
    );
    this.name = 'RebaseRefused';
    this.refusals = refusals;
  }
}

export interface CompatibilityInput {
  /** The app image's config (its labels carry the old base's stack and distro labels). */
  app: ImageConfig;
  /** The new run image's config. */
  base: ImageConfig;
  /** The run image name and mirrors the app recorded; undefined when it recorded none (OCI base annotations, --old-base). */
  recorded?: { image?: string; mirrors: string[] };
  /** The name the new run image was given by (--run-image, or the recorded one). */
  newName: string;
}

/**
 * Every check the lifecycle's rebaser makes before a rebase, with a message that says
 * what differs: the app is not marked io.buildpacks.rebasable=false; the stack id
 * and mixins (the legacy checks) and the target (os, arch, variant, distro; an empty
 * value matches anything) agree; and the new run image is the recorded one or a mirror.
 */
export function compatibilityRefusals(input: CompatibilityInput): Refusal[] {
  const out: Refusal[] = [];
  const app = input.app.config?.Labels ?? {};
  const base = input.base.config?.Labels ?? {};
  if (app[RebaseLabel.Rebasable] === 'false') {
    // Slipway names what made the image unrebasable: image extensions' run.Dockerfiles, or full-filesystem staging.
    const extendedBy = app['io.slipway.extended-by'];
    const why = extendedBy
      ? `its run image was extended by the image extension${extendedBy.includes(',') ? 's' : ''} ${extendedBy.split(',').join(', ')}, whose run.Dockerfile did not declare LABEL ${RebaseLabel.Rebasable}=true`
      : app['io.slipway.full-filesystem'] === 'true'
        ? 'full-filesystem staging changed files outside the app'
        : 'its run image was extended, or staging changed files outside the app';
    out.push({
      check: 'rebasable',
      message: `the image is labelled ${RebaseLabel.Rebasable}=false (${why}): its layers may depend on the exact old base`,
    });
  }
  const [appStack, baseStack] = [app[RebaseLabel.StackId], base[RebaseLabel.StackId]];
  if (appStack && baseStack && appStack !== baseStack) {
    out.push({
      check: 'stack-id',
      message: `the new run image has stack id ${baseStack}, the image was built for ${appStack}`,
    });
  }
  const missing = mixins(app[RebaseLabel.Mixins]).filter((m) => !mixins(base[RebaseLabel.Mixins]).includes(m));
  if (missing.length > 0)
    out.push({ check: 'mixins', message: `the new run image lacks the mixins ${missing.join(', ')} the image needs` });
  if (input.app.os !== input.base.os)
    out.push({ check: 'os', message: `the new run image is for os ${input.base.os}, the image for ${input.app.os}` });
  if (input.app.architecture !== input.base.architecture) {
    out.push({
      check: 'arch',
      message: `the new run image is for architecture ${input.base.architecture}, the image for ${input.app.architecture}`,
    });
  }
  if (input.app.variant && input.base.variant && input.app.variant !== input.base.variant) {
    out.push({
      check: 'variant',
      message: `the new run image is for variant ${input.base.variant}, the image for ${input.app.variant}`,
    });
  }
  for (const [label, what] of [
    [RebaseLabel.DistroName, 'distro'],
    [RebaseLabel.DistroVersion, 'distro version'],
  ] as const) {
    const [a, b] = [app[label], base[label]];
    if (b && a && a !== b)
      out.push({ check: 'distro', message: `the new run image's ${what} is ${b}, the image's ${a}` });
  }
  const recorded = input.recorded;
  if (recorded?.image && ![recorded.image, ...recorded.mirrors].some((n) => sameRepository(n, input.newName))) {
    const listed = [recorded.image, ...recorded.mirrors].join(', ');
    out.push({
      check: 'run-image',
      message: `the run image ${input.newName} is neither the image's run image nor one of its mirrors (${listed})`,
    });
  }
  return out;
}

/** Mixins as the lifecycle compares them: the JSON array label, `build:`/`run:` stage prefixes stripped, build-only ones dropped. */
function mixins(label: string | undefined): string[] {
  if (!label) return [];
  try {
    const list = JSON.parse(label) as unknown;
    if (!Array.isArray(list)) return [];
    return list
      .filter((m): m is string => typeof m === 'string' && !m.startsWith('build:'))
      .map((m) => m.replace(/^run:/, ''));
  } catch {
    return [];
  }
}
