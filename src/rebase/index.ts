/**
 * Rebase: new run image layers under unchanged app layers, as the CNB rebaser does;
 * one image (any transport), an index platform by platform, or a whole fleet.
 */
export { rebaseImage, type RebaseOptions, type RebaseReport, type PlatformRebase } from './rebase.js';
export { rebaseAppImage, type NewBase, type ImageRebaseOptions, type ImageRebaseResult } from './rebase-image.js';
export { fleetRebase, type FleetOptions, type FleetReport, type FleetEntry } from './fleet.js';
export { checkRebase, type CheckOptions, type CheckReport } from './check.js';
export { shadowedFiles, type Shadow } from './conflicts.js';
export { updateStackAndRebase } from './stack-update.js';
export { RebaseRefused, compatibilityRefusals, type Refusal, type CompatibilityInput } from './compatibility.js';
export {
  RebaseLabel,
  readLifecycleMetadata,
  recordedRunImage,
  updatedLifecycleMetadata,
  type LifecycleMetadata,
  type RunImageMetadata,
} from './lifecycle-metadata.js';
export { BlobPlacement, type TransferCounts } from './write-rebased.js';
