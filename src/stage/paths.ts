import { join } from 'node:path';
import { escapeId, type BuildpackDescriptor } from '../buildpack/cnb/buildpack-descriptor.js';

/** Paths in the build container (platform.md defaults) and their host sides. */
export const APP_DIR = '/workspace';
export const LAYERS_DIR = '/layers';
export const PLATFORM_DIR = '/platform';
export const BUILDPACKS_DIR = '/cnb/buildpacks';

/** The host directories a staging works in, mounted into the build container. */
export class StagingDirs {
  constructor(readonly root: string) {}
  get workspace(): string {
    return join(this.root, 'workspace');
  }
  get layers(): string {
    return join(this.root, 'layers');
  }
  get platform(): string {
    return join(this.root, 'platform');
  }
  get control(): string {
    return join(this.root, 'control');
  }
  /** Host path of a buildpack's layers directory. */
  buildpackLayers(bp: BuildpackDescriptor): string {
    return join(this.layers, escapeId(bp.id));
  }
}

/** Where a buildpack is mounted in the build container. */
export function buildpackPath(bp: BuildpackDescriptor): string {
  return `${BUILDPACKS_DIR}/${escapeId(bp.id)}/${bp.version}`;
}
