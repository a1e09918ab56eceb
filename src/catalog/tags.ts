import { SlipwayError } from '../errors.js';
import { formatTransport, type TransportRef } from '../oci/transport.js';
import { Registries } from '../registry/client/registries.js';
import type { LocalStore } from '../store/local-store.js';

/**
 * The tags of a repository: of a registry (every page), or of the local store.
 *
 * @example
 * await listRepositoryTags(parseTransport('docker://127.0.0.1:5000/team/app'), openStore); // ['v1', 'v2']
 */
export async function listRepositoryTags(
  ref: TransportRef,
  store: () => Promise<LocalStore>,
  registries: Registries = new Registries(),
): Promise<string[]> {
  switch (ref.transport) {
    case 'docker': {
      const client = await registries.client(ref.reference.domain, ref.reference.path);
      return client.listTags(ref.reference.path);
    }
    case 'local':
      return (await store()).meta.listTags(ref.name);
    default:
      throw new SlipwayError(
        'INVALID_ARGUMENT',
        `${formatTransport(ref)}: tags are listed for a registry repository (HOST/NAME) or a local one (NAME)`,
      );
  }
}
