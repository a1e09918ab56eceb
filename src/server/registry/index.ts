/**
 * The Slipway registry: OCI Distribution Spec v1.1 on the local store.
 *
 * @example
 * const store = await LocalStore.open();
 * const registry = await serveRegistry({ store, auth: allowAll, addr: '127.0.0.1:5000' });
 * const gc = startGc(store, { intervalMs: 3_600_000, graceMs: 3_600_000 });
 */
export { createRegistryApp, DEFAULT_LIMITS, type RegistryApp, type RegistryEnv, type RegistryOptions } from './app.js';
export type { RegistryLimits } from './context.js';
export { RegistryError, REGISTRY_ERRORS, toRegistryError, type RegistryErrorCode } from './errors.js';
export type { RegistryEvent } from './events.js';
export { startGc, type OnlineGc, type OnlineGcOptions } from './gc.js';
export { parseAddr, serveRegistry, type RunningRegistry, type ServeOptions } from './serve.js';
export { REPOSITORY_LABEL } from './upload-sessions.js';
