import type { Digest } from '../oci/digest.js';
import type { LocalStore } from '../store/local-store.js';
import type { CreateStackOptions } from './create.js';
import { DEFAULT_STACK_NAME } from './request.js';
import { latestVersion } from './stack-catalog.js';

/**
 * The stack `slipway build` uses when none is named: `default`, Debian bookworm with
 * the default packages and user. Made (or taken from the stack cache) on first use;
 * once in the store it is returned as it is, without asking the network. The code that
 * makes stacks loads only then: it would be a good part of a warm build's start-up.
 */
export async function ensureDefaultStack(
  store: LocalStore,
  options: Pick<CreateStackOptions, 'cacheDir' | 'progress'> = {},
): Promise<{ name: string; version: string; run: Digest; build: Digest }> {
  const latest = await latestVersion(store, DEFAULT_STACK_NAME);
  if (latest)
    return { name: DEFAULT_STACK_NAME, version: latest.version, run: latest.run.digest, build: latest.build.digest };
  const { createStack } = await import('./create.js');
  const made = await createStack(store, DEFAULT_STACK_NAME, options);
  return { name: DEFAULT_STACK_NAME, version: made.version, run: made.run.digest, build: made.build.digest };
}
