/** The container runtime: layer cache, overlay root filesystems, OCI runtime spec, runc. */
import { existsSync } from 'node:fs';
import { ContainerRuntime } from './containers.js';
import type { LayerGcReport } from './layer-cache.js';
import { RuntimePaths } from './paths.js';

export { ContainerRuntime, type ContainerInfo, type ImageInput, type RunIo, type RunResult } from './containers.js';
export { LayerCache, type CacheableLayer, type LayerGcReport } from './layer-cache.js';
export { RuntimePaths } from './paths.js';
export { RuntimeState, type ContainerRecord, type LayerRecord } from './state.js';
export {
  runtimeSpec,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_MOUNTS,
  DEFAULT_READONLY_PATHS,
  type RuntimeSpec,
  type SpecOptions,
  type BindMount,
} from './runtime-spec.js';
export {
  processCommand,
  cnbProcesses,
  isLauncherImage,
  CNB_LAUNCHER,
  type CnbProcess,
  type CommandOptions,
} from './process-command.js';
export { resolveUser, type ProcessUser } from './image-user.js';
export { mountOverlay, unmountOverlay, MAX_LOWER_LAYERS } from './overlay-mount.js';
export { parseBind, parseMemory, mergeEnv, type RunOptions } from './run-options.js';
export { planImage, type ImagePlan } from './image-plan.js';
export { copyLog } from './container-log.js';
export { Runc } from './runc.js';

export interface RuntimeGcReport extends LayerGcReport {
  /** Containers a killed slipway process left, removed (build containers, `run --rm`), or ended. */
  containersRemoved: number;
  containersEnded: number;
}

/**
 * Sweeps what killed `slipway` processes left (see ContainerRuntime.sweep), then removes
 * the cached layers no container uses but those in `keep`, for the store in `storeHome`;
 * does nothing (and creates nothing) when nothing was ever run there.
 *
 * @example
 * const { layersRemoved } = await collectLayerGarbage();
 */
export async function collectLayerGarbage(
  storeHome?: string,
  options: { keep?: ReadonlySet<string> } = {},
): Promise<RuntimeGcReport> {
  const paths = new RuntimePaths(storeHome);
  if (!existsSync(paths.stateDb))
    return { layersRemoved: 0, layerBytesFreed: 0, partialsRemoved: 0, containersRemoved: 0, containersEnded: 0 };
  const runtime = ContainerRuntime.open(storeHome);
  try {
    const swept = await runtime.sweep();
    return { ...swept, ...runtime.gc(options) };
  } finally {
    runtime.close();
  }
}
