import { SlipwayError } from '../../../errors.js';
import type { WorkloadContext } from '../../../platform/actions/workload-context.js';
import type { Call } from '../route.js';

/** The workload use cases' context for a call: the control plane's plus the workload store and services. */
export function workloadCtx(call: Call): WorkloadContext {
  const { workloads, services } = call.deps;
  if (!workloads || !services)
    throw new SlipwayError('INVALID_ARGUMENT', 'the v3 app was made without deps.workloads and deps.services', {
      detail: { cf: 'ServerError' },
    });
  return { ...call.ctx, workloads, services };
}

/** The registry's host as clients reach it: the API's (the registry is served on the same address, at /v2). */
export function registryHost(call: Call): string {
  return new URL(call.urls.base).host;
}
