export { RegistryAuth, basicHeader, parseChallenges, type AuthOptions, type Challenge, type Credentials } from './auth.js';
export { RegistryClient, isLoopbackHost, nextLink, type Manifest, type ManifestHead, type RegistryClientOptions } from './client.js';
export { RemoteDestination } from './remote-destination.js';
export { MANIFEST_ACCEPT, RemoteBlobSource } from './remote-source.js';
