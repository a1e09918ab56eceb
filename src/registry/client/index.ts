export {
  RegistryAuth,
  basicHeader,
  parseChallenges,
  type AuthOptions,
  type Challenge,
  type Credentials,
} from './auth.js';
export {
  RegistryClient,
  isLoopbackHost,
  nextLink,
  type Manifest,
  type ManifestHead,
  type RegistryClientOptions,
} from './client.js';
export { MANIFEST_ACCEPT, RemoteBlobSource } from './remote-source.js';
export { Registries, type RegistriesOptions } from './registries.js';
export {
  findCredentials,
  saveCredentials,
  removeCredentials,
  credentialFiles,
  loginFile,
  normalizeAuthKey,
  type CredentialFilesOptions,
} from './credentials.js';
export { login, logout, type LoginOptions } from './login.js';
