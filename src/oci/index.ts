/**
 * The oci module: digests, media types, document types and their validation, image
 * references, transport strings and platforms. It imports nothing of Slipway's except
 * errors.ts, so every other layer may depend on it.
 *
 * @example
 *   import { parseReference, parseManifest, selectManifest, hostPlatform } from '../oci/index.js';
 */
export * from './annotations.js';
export * from './digest.js';
export * from './json-depth.js';
export * from './media-types.js';
export * from './platform.js';
export * from './reference.js';
/** The JSON shape checker the validators are written in. */
export * as shape from './shape.js';
export * from './transport.js';
export * from './types.js';
export * from './validate.js';
