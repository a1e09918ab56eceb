import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LocalStore } from '../../store/local-store.js';
import type { RepositoryNames } from '../../auth/repository-names.js';
import type { Access, Authenticator, ClientInfo, Principal } from '../auth/types.js';

export { SAME_NAMES, type RepositoryNames } from '../../auth/repository-names.js';
import type { RegistryEvent } from './events.js';
import type { ManifestCache } from './manifest-cache.js';
import type { Route } from './paths.js';
import type { UploadSessions } from './upload-sessions.js';

export interface RegistryLimits {
  /** The largest manifest accepted (413 beyond). Default 4 MiB, the size the spec asks registries to take. */
  maxManifestBytes: number;
  /** The largest blob an upload may grow to (413 SIZE_INVALID beyond). Default unlimited. */
  maxUploadBytes: number;
}

/** What every route handler works with: the store, the gatekeeper, and the registry's own state. */
export interface RegistryContext {
  store: LocalStore;
  auth: Authenticator;
  names: RepositoryNames;
  limits: RegistryLimits;
  uploads: UploadSessions;
  manifests: ManifestCache;
  emit: (event: RegistryEvent) => void;
  /** Blob GETs answered with a presigned object-store URL (`serve --s3-redirect`). */
  redirectBlobs: boolean;
}

/** One request, as a handler sees it. */
export interface Call<R extends Route = Route> {
  request: Request;
  /** The route, with the repository name as the client wrote it (authorization and headers use it). */
  route: R;
  /** The stored repository the route's name stands for (store calls use it); '' for routes without a name. */
  repository: string;
  query: URLSearchParams;
  /** Body bytes received; handlers that read a body add to it (for the request event). */
  bytesIn: number;
  /** Content bytes sent (manifests, blobs), likewise. */
  bytesOut: number;
  /** The status sent when a handler wrote the response itself (see `node`). */
  sentStatus?: number;
  /**
   * Node's request and response when served by @hono/node-server: bodies are then read
   * from and blobs written to the sockets directly, without web streams in between.
   */
  node?: { incoming: IncomingMessage; outgoing: ServerResponse };
  /** The caller as the connection shows it (peer address), for the authenticator's login limits. */
  client?: ClientInfo;
}

/** `repository:NAME:ACTIONS`, as routes ask for it. */
export function repositoryAccess(name: string, ...actions: string[]): Access {
  return { type: 'repository', name, actions };
}

/** Asks the authenticator; its RegistryAuthError becomes a 401/403 with the challenge (see errors.ts). */
export function authorize(reg: RegistryContext, call: Call, required: Access[]): Promise<Principal> {
  return reg.auth.check(call.request, required, call.client);
}

/** True when the client may also have `access`: used where refusal means "do something else", not "fail". */
export async function mayAlso(reg: RegistryContext, call: Call, access: Access): Promise<boolean> {
  try {
    await reg.auth.check(call.request, [access], call.client);
    return true;
  } catch {
    return false;
  }
}
