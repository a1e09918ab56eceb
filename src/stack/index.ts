/**
 * Stacks: the build and run images staging runs in and apps run on, made from
 * Debian packages (mmdebstrap), rootfs tarballs or images, versioned in the store.
 */
export {
  createStack,
  updateStack,
  stackRequest,
  type CreateStackOptions,
  type UpdateStackOptions,
  type StackReport,
  type StackImageReport,
  type StackSource,
} from './create.js';
export { ensureDefaultStack } from './default-stack.js';
export {
  listStackNames,
  stackVersions,
  latestVersion,
  removeStack,
  versionChanges,
  repositoryOf,
  type StackVersion,
  type StackImageInfo,
  type VersionChanges,
  type RemoveReport,
} from './stack-catalog.js';
export {
  diffPackages,
  formatDiff,
  parseDpkgStatus,
  isEmptyDiff,
  type PackageSet,
  type PackageDiff,
  type PackageChange,
} from './packages.js';
export {
  parseUser,
  parsePackageList,
  DEFAULT_STACK_NAME,
  DEFAULT_USER,
  DEFAULT_SUITE,
  RUN_BASE_PACKAGES,
  BUILD_BASE_PACKAGES,
  type StackRequest,
  type StackUser,
} from './request.js';
export { StackLabel, type StackRole } from './stack-labels.js';
export { defaultCacheDir } from './layer-cache.js';
export { defaultMirror } from './debian-mirror.js';
export {
  inspectStack,
  diffStackVersions,
  listStacks,
  type StackInspection,
  type StackListEntry,
  type StackVersionSummary,
  type StackImageSummary,
} from './inspect.js';
