import type { ResolvedPlan } from '../../../buildpack/cnb/build-plan.js';
import type { BuildpackDescriptor, Order } from '../../../buildpack/cnb/buildpack-descriptor.js';
import {
  extensionPath,
  isExtension,
  type ExtensionDescriptor,
  type ExtensionSet,
} from '../../../buildpack/cnb/extension-descriptor.js';
import type { GroupMember } from '../../../buildpack/cnb/order.js';
import { buildpackPath } from '../paths.js';
import type { DockerfileKind } from './dockerfile.js';
import { buildpackPlan, type GeneratedExtension } from './generate.js';
import type { ExtendReport, ExtendStep } from './extend.js';
import { withLabels } from '../../../image/mutate.js';
import type { Image } from '../../../image/types.js';
import type { ImageConfig } from '../../../oci/types.js';

/**
 * The order with image extensions (platform.md "order.toml" [[order-extensions]]):
 * each buildpack group is tried after each extension group in turn, the extensions
 * first and all optional, as the lifecycle prepends them.
 */
export function withExtensions(groups: GroupMember[][], orderExtensions: Order, set: ExtensionSet): GroupMember[][] {
  if (orderExtensions.length === 0) return groups;
  const extGroups = orderExtensions.map((g) => g.map((e) => ({ buildpack: set.find(e), optional: true })));
  return groups.flatMap((g) => extGroups.map((eg) => [...eg, ...g]));
}

/** Where a buildpack or an extension is mounted in the build container. */
export function mountPath(bp: BuildpackDescriptor): string {
  return isExtension(bp) ? extensionPath(bp) : buildpackPath(bp);
}

/** The detected group split: the extensions that passed (in order), and the buildpacks' group and plan. */
export function splitDetected(detected: { group: BuildpackDescriptor[]; plan: ResolvedPlan<BuildpackDescriptor> }): {
  extensions: ExtensionDescriptor[];
  group: BuildpackDescriptor[];
  plan: ResolvedPlan<BuildpackDescriptor>;
} {
  const plan = buildpackPlan(detected.plan, isExtension);
  return { extensions: detected.group.filter(isExtension), group: plan.group, plan };
}

/** The Dockerfiles of one kind, in the group's order, as the extend phase takes them. */
export function stepsOf(generated: GeneratedExtension[], kind: DockerfileKind): ExtendStep[] {
  return generated.flatMap((g) => g.dockerfiles.filter((d) => d.dockerfile.kind === kind));
}

/** The label naming the extensions whose run.Dockerfiles made the run image (why a rebase is refused). */
export const EXTENDED_BY_LABEL = 'io.slipway.extended-by';

/**
 * The extended run image as the exporter takes it: labelled with the extensions that
 * made it and, unless every run.Dockerfile declared itself rebasable, with
 * io.buildpacks.rebasable=false (platform.md: the extender "shall set the label").
 */
export async function markExtended(report: ExtendReport): Promise<Image> {
  if (report.applied.length === 0) return report.image;
  const ids = [...new Set(report.applied.map((a) => a.extension))].join(',');
  return withLabels(report.image, {
    [EXTENDED_BY_LABEL]: ids,
    ...(report.rebasable ? {} : { 'io.buildpacks.rebasable': 'false' }),
  });
}

/** An image config's Env as a map. */
export function imageEnv(config: ImageConfig): Record<string, string> {
  return Object.fromEntries(
    (config.config?.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}
