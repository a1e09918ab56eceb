/** The servers, as the CLI starts them: the one entry a face below may use (the layer rules allow nothing else). */
export { startRegistryServer, type RegistryServerOptions, type RunningRegistryServer } from './registry-server.js';
export {
  DEFAULT_APPS_DOMAIN,
  startPlatformServer,
  type PlatformServerOptions,
  type RunningPlatformServer,
} from './platform-server.js';
