/** The servers, as the CLI starts them: the one entry a face below may use (the layer rules allow nothing else). */
import type { PlatformServerOptions, RunningPlatformServer } from './platform-server.js';

export { DEFAULT_APPS_DOMAIN } from './defaults.js';
export { startRegistryServer, type RegistryServerOptions, type RunningRegistryServer } from './registry-server.js';
export type { PlatformServerOptions, RunningPlatformServer };

/**
 * `slipway serve`. The platform (v3 API, UAA, dashboard, workload engine) is loaded
 * only when started: a `registry serve` that loaded it too held ~70 MiB more.
 */
export async function startPlatformServer(o: PlatformServerOptions): Promise<RunningPlatformServer> {
  const platform = await import('./platform-server.js');
  return platform.startPlatformServer(o);
}
