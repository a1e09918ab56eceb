import { Annotation } from '../oci/annotations.js';
import { MediaType } from '../oci/media-types.js';
import type { ContainerConfig, HistoryEntry, ImageConfig, Platform } from '../oci/types.js';
import { ComputedImage } from '../image/computed-image.js';
import type { Image, Layer } from '../image/types.js';
import type { PackageSet } from './packages.js';
import type { OsRelease } from './os-release.js';
import type { StackRequest } from './request.js';
import { StackLabel, type StackRole } from './stack-labels.js';

/**
 * The part of the request an image of `role` depends on: the run image leaves out the
 * build image's packages (or source), so a change to the build image alone leaves
 * the run image's digest, and every app on it, as it is. The build image has it all.
 */
export function roleRequest(request: StackRequest, role: StackRole): StackRequest {
  if (role === 'build') return request;
  if (request.source === 'debian') {
    const { buildPackages: _omitted, ...rest } = request;
    return rest as StackRequest;
  }
  const { build: _omitted, ...rest } = request;
  return rest as StackRequest;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What goes on one image of a stack besides its layers. */
export interface StackImageMeta {
  name: string;
  role: StackRole;
  request: StackRequest;
  packages: PackageSet;
  os: OsRelease;
  platform: Platform;
  /** Seconds since the epoch for `created` (SOURCE_DATE_EPOCH or 1980-01-01): no clock in the digest. */
  created: number;
  mirrorState?: string;
  /** One line on where the layers came from, e.g. "Debian bookworm minbase + ca-certificates, tzdata". */
  origin: string;
}

/**
 * A stack image as CNB platforms write base images: `User` the stack user (uid:gid),
 * `CNB_USER_ID`/`CNB_GROUP_ID` in Env (and `CNB_STACK_ID` on the build image),
 * io.buildpacks.stack.id and io.buildpacks.base.* labels, target os/arch and distro,
 * the org.opencontainers.image.* annotations, and Slipway's record of the request and
 * the installed packages. `base` (a brought image) keeps its other config fields.
 *
 * @example
 *   const run = stackImage([layer], meta, undefined);
 */
export function stackImage(layers: Layer[], history: HistoryEntry[], meta: StackImageMeta, base?: ImageConfig): Image {
  const { request, role } = meta;
  const created = new Date(meta.created * 1000).toISOString().replace('.000Z', 'Z');
  const description = `${meta.name} ${role} image: ${meta.origin}`;
  const labels: Record<string, string> = {
    ...(base?.config?.Labels ?? {}),
    [StackLabel.StackId]: request.stackId,
    [StackLabel.BaseId]: request.stackId,
    [StackLabel.Maintainer]: 'Slipway',
    [StackLabel.Released]: created,
    [StackLabel.Description]: description,
    [StackLabel.Name]: meta.name,
    [StackLabel.Role]: role,
    [StackLabel.Request]: JSON.stringify(roleRequest(request, role)),
    [StackLabel.Packages]: JSON.stringify(meta.packages),
  };
  if (meta.os.id) labels[StackLabel.DistroName] = meta.os.id;
  if (meta.os.versionId) labels[StackLabel.DistroVersion] = meta.os.versionId;
  if (meta.mirrorState) labels[StackLabel.MirrorState] = meta.mirrorState;
  if (role === 'run') labels[StackLabel.Rebasable] = 'true';

  const cnbEnv: Record<string, string> = {
    CNB_USER_ID: String(request.user.uid),
    CNB_GROUP_ID: String(request.user.gid),
    ...(role === 'build' ? { CNB_STACK_ID: request.stackId } : {}),
  };
  const env = (base?.config?.Env ?? []).filter((e) => !(e.slice(0, e.indexOf('=')) in cnbEnv));
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);
  env.push(...Object.entries(cnbEnv).map(([k, v]) => `${k}=${v}`));

  const config: ContainerConfig = {
    ...(base?.config ?? {}),
    User: `${request.user.uid}:${request.user.gid}`,
    Env: env,
    Labels: labels,
  };
  if (!config.Cmd && !config.Entrypoint) config.Cmd = ['/bin/bash'];
  const imageConfig: ImageConfig = {
    created,
    architecture: meta.platform.architecture,
    os: meta.platform.os,
    ...(meta.platform.variant ? { variant: meta.platform.variant } : {}),
    config,
    rootfs: { type: 'layers', diff_ids: [] },
    history,
  };
  return new ComputedImage({
    layers,
    config: imageConfig,
    manifestMediaType: MediaType.OciManifest,
    annotations: {
      [Annotation.Title]: `${meta.name}/${role}`,
      [Annotation.Description]: description,
      [Annotation.Created]: created,
      [Annotation.Vendor]: 'Slipway',
      ...(meta.os.versionId ? { [Annotation.Version]: `${meta.os.id ?? 'linux'}-${meta.os.versionId}` } : {}),
    },
  });
}
