import { SlipwayError, isSlipwayError } from '../errors.js';
import { formatTransport, type TransportRef } from '../oci/transport.js';
import { Registries } from '../registry/client/registries.js';

/**
 * Checks, before any work, that an image could be pushed to `destination`: the
 * registry answers, the credentials are accepted, and they may push to the
 * repository (an upload is started and cancelled; nothing is written). A build to an
 * unreachable registry or with the wrong credentials then fails in a second, not
 * after the whole build. Destinations other than registries pass.
 *
 * @example
 * await checkDestination(parseRegistryTransport('127.0.0.1:5000/team/app:v1'), registries);
 */
export async function checkDestination(
  destination: TransportRef,
  registries: Registries = new Registries(),
): Promise<void> {
  if (destination.transport !== 'docker') return;
  const { domain, path } = destination.reference;
  try {
    const client = await registries.client(domain, path);
    await client.checkPush(path);
  } catch (err) {
    if (!isSlipwayError(err)) throw err;
    throw new SlipwayError(
      err.code,
      `${formatTransport(destination)} cannot be pushed to (checked before starting): ${err.message}`,
      { cause: err, ...(err.detail === undefined ? {} : { detail: err.detail }) },
    );
  }
}
