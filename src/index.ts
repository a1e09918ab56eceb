/**
 * Slipway's library API: the same building blocks the `slipway` CLI uses.
 *
 * @example
 * import { LocalStore, importRootfs, copy, parseTransport, inspect } from 'slipway';
 * const store = await LocalStore.open();
 * await importRootfs(store, './rootfs', 'debian', 'bookworm');
 * await copy(parseTransport('debian:bookworm'), parseTransport('oci:/tmp/out:bookworm'), async () => store);
 */
export * from './errors.js';
export * from './oci/index.js';
export type { Progress } from './progress.js';
export { silentProgress } from './progress.js';

export type { TarEntry, EntryType } from './layer/entry.js';
export { walkTree, type WalkOptions, type OwnerPolicy } from './layer/tree-walk.js';
export { writeLayer, writeLayerFromDirectory, type WrittenLayer, type LayerSink } from './layer/layer-writer.js';
export { compressStream, decompressing } from './layer/compress.js';
export { readTar } from './layer/tar-reader.js';
export { extractLayer, type ExtractOptions } from './layer/extract.js';
export { overlayUpperEntries, writeOverlayDiffLayer, layerToOverlay } from './layer/overlay.js';

export type { Image, Layer, ImageIndexValue, Artifact } from './image/types.js';
export { BlobImage, BlobIndex, BlobLayer, artifactFromBlobs } from './image/blob-image.js';
export { ComputedImage } from './image/computed-image.js';
export * as mutate from './image/mutate.js';
export { flatten } from './image/flatten.js';
export { validateImage } from './image/validate.js';
export { describeImage, type ImageDescription } from './image/describe.js';
export { pickImage } from './image/pick.js';

export type { BlobStore, BlobWriter, MetadataStore } from './store/types.js';
export { LocalStore, StoreLease } from './store/local-store.js';

export { OciLayout } from './transport/oci-layout.js';
export { writeDockerArchive, withDockerArchive } from './transport/docker-archive.js';
export { writeArtifact } from './transport/write-artifact.js';

export { copy, type CopyOptions, type CopyReport } from './copy/copy.js';
export { importRootfs, type RootfsImportOptions } from './copy/import-rootfs.js';
export { pull, localNameFor } from './copy/pull.js';
export { promote } from './promote/promote.js';
export * from './registry/client/index.js';
export { RemoteDestination } from './transport/remote-destination.js';
export {
  manifestOf,
  digestOfReference,
  deleteRemote,
  type RawManifest,
  type ManifestQuery,
} from './catalog/manifest.js';
export { listRepositoryTags } from './catalog/tags.js';
export { listImages, type ImageSummary } from './catalog/images.js';
export { inspect, type InspectResult } from './catalog/inspect.js';

export * as runtime from './runtime/index.js';
export { ContainerRuntime, type RunOptions, type RunResult, type ContainerInfo } from './runtime/index.js';

export * as stack from './stack/index.js';
export {
  createStack,
  updateStack,
  ensureDefaultStack,
  inspectStack,
  listStacks,
  removeStack,
  type StackReport,
  type CreateStackOptions,
  type UpdateStackOptions,
} from './stack/index.js';

export * as rebase from './rebase/index.js';
export {
  rebaseImage,
  fleetRebase,
  checkRebase,
  updateStackAndRebase,
  RebaseRefused,
  type RebaseOptions,
  type RebaseReport,
  type FleetOptions,
  type FleetReport,
  type CheckReport,
} from './rebase/index.js';

export { stage, type StageOptions, type StageReport } from './stage/cnb/stage.js';
export { buildApp, type BuildAppOptions, type BuildAppReport } from './stage/cnb/build-app.js';
export {
  createBuilder,
  readBuilderImage,
  type CreateBuilderOptions,
  type CreateBuilderReport,
  type ImageBuilder,
} from './stage/cnb/builder-image.js';
export {
  packageBuildpack,
  type PackageBuildpackOptions,
  type PackageBuildpackReport,
} from './stage/cnb/buildpackage.js';
export { StageError } from './stage/cnb/stage-error.js';
export { resolvePlan, parseDetectPlan, type PlanAlternative, type ResolvedPlan } from './buildpack/cnb/build-plan.js';
export { expandOrder } from './buildpack/cnb/order.js';
export { readBuildpackDescriptor, type BuildpackDescriptor } from './buildpack/cnb/buildpack-descriptor.js';
export {
  readProjectDescriptor,
  parseProjectDescriptor,
  type ProjectDescriptor,
} from './buildpack/cnb/project-descriptor.js';

export {
  importDroplet,
  importDropletDir,
  type ImportDropletOptions,
  type ImportDropletReport,
} from './droplet/import.js';
export { exportDroplet, dropletLabelOf, type ExportDropletReport } from './droplet/export.js';
export { DROPLET_LABEL, CF_LAUNCHER, type DropletLabel, type StagingInfo } from './droplet/layout.js';
export { readProcessTypes } from './droplet/process-types.js';
export { stageClassic, type StageClassicOptions, type StageClassicReport } from './stage/classic/stage-classic.js';
export { stageFullFs, fullFsOptIn, type FullFsOptions, type FullFsReport } from './stage/classic/full-fs-stage.js';
export { ClassicStageError, ClassicExit } from './buildpack/classic/classic-error.js';
export { isClassicBuildpackDir } from './buildpack/classic/buildpack-source.js';
