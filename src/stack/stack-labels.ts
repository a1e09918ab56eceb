/**
 * Label names on stack images. The io.buildpacks.* ones are what CNB platforms
 * write and read (platform.md "Run image" / "Build image", lifecycle rebase); the
 * io.slipway.stack.* ones are Slipway's record of how the stack was made.
 */
export const StackLabel = {
  /** Deprecated since Platform API 0.12 but still what rebase and older buildpacks check. */
  StackId: 'io.buildpacks.stack.id',
  BaseId: 'io.buildpacks.base.id',
  DistroName: 'io.buildpacks.base.distro.name',
  DistroVersion: 'io.buildpacks.base.distro.version',
  Maintainer: 'io.buildpacks.base.maintainer',
  Homepage: 'io.buildpacks.base.homepage',
  Released: 'io.buildpacks.base.released',
  Description: 'io.buildpacks.base.description',
  Metadata: 'io.buildpacks.base.metadata',
  Rebasable: 'io.buildpacks.rebasable',
  /** Slipway's stack name (the repositories are NAME/run and NAME/build). */
  Name: 'io.slipway.stack.name',
  /** "run" or "build". */
  Role: 'io.slipway.stack.role',
  /** The normalised StackRequest, JSON: what `stack update` re-runs. */
  Request: 'io.slipway.stack.request',
  /** Installed packages, JSON {name: version}, read from /var/lib/dpkg/status. */
  Packages: 'io.slipway.stack.packages',
  /** sha256 of the suite's InRelease the packages came from (Debian stacks). */
  MirrorState: 'io.slipway.stack.mirror-state',
} as const;

export type StackRole = 'run' | 'build';
