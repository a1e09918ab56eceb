import type { LocalStore } from '../store/local-store.js';
import { updateStack, type StackReport, type UpdateStackOptions } from '../stack/create.js';
import { fleetRebase, type FleetOptions, type FleetReport } from './fleet.js';

/**
 * `slipway stack update NAME --rebase`: a new version of the stack, then every image
 * on an older version of its run image rebased onto it. When the update made no new
 * version, the fleet rebase still runs (it picks up images left behind earlier).
 *
 * @example
 *   const { stack, rebase } = await updateStackAndRebase(store, 'default', { runPackages: ['libgmp10'] }, { concurrency: 8 });
 */
export async function updateStackAndRebase(
  store: LocalStore,
  name: string,
  update: UpdateStackOptions = {},
  fleet: Omit<FleetOptions, 'stack'> = {},
): Promise<{ stack: StackReport; rebase: FleetReport }> {
  const stack = await updateStack(store, name, update);
  const rebase = await fleetRebase(store, { ...fleet, stack: name });
  return { stack, rebase };
}
