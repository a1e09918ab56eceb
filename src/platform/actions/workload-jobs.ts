import { unprocessable } from '../cf-errors.js';
import type { JobRunner } from '../jobs.js';
import type { WorkloadStore } from '../store/workload-store.js';
import type { WorkloadServices } from '../workload-services.js';
import { APPLY_MANIFEST } from './manifests.js';
import { performRouteDelete, ROUTE_DELETE } from './routes.js';
import { STACK_UPDATE_JOB } from './stack-updates.js';

/**
 * The workload's jobs as a restarted server runs them again: a route delete is done
 * again (idempotent); a manifest being applied is not kept (only the request had it),
 * so its job fails saying to apply it again.
 */
export function defineWorkloadJobs(jobs: JobRunner, workloads: WorkloadStore, services: WorkloadServices): void {
  jobs.define(ROUTE_DELETE, async (job) =>
    job.resourceGuid ? performRouteDelete({ workloads, services }, job.resourceGuid) : undefined,
  );
  jobs.define(APPLY_MANIFEST, async () => {
    throw unprocessable('The API stopped while it applied this manifest: apply it again (cf push again).');
  });
  jobs.define(STACK_UPDATE_JOB, async () => {
    throw unprocessable(
      'The API stopped while it updated this stack: run the update again (apps already rolled stay rolled).',
    );
  });
}
