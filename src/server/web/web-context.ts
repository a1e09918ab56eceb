import { AuditLog } from '../../platform/audit.js';
import type { StackSource } from '../../platform/actions/stacks.js';
import type { StackUpdates } from '../../platform/actions/stack-updates.js';
import type { WorkloadContext } from '../../platform/actions/workload-context.js';
import { ImageFacts } from '../../platform/dashboard/app-image.js';
import type { Identity } from '../../platform/identity/identity.js';
import type { JobRunner } from '../../platform/jobs.js';
import { newGuid } from '../../platform/model.js';
import { Permissions, type Caller } from '../../platform/policy.js';
import type { PlatformStore } from '../../platform/store/platform-store.js';
import type { WorkloadStore } from '../../platform/store/workload-store.js';
import type { WorkloadServices } from '../../platform/workload-services.js';
import type { LocalStore } from '../../store/local-store.js';

/** What the dashboard is made with: the same stores, services, job runner and identity the v3 API uses. */
export interface WebDeps {
  store: PlatformStore;
  workloads: WorkloadStore;
  services: WorkloadServices;
  jobs: JobRunner;
  stackUpdates: StackUpdates;
  stacks: StackSource;
  images: LocalStore;
  identity: Identity;
  onError?: (err: unknown, where: string) => void;
}

/** The per-request context: a WorkloadContext as the v3 API's handlers make it, so every action asks the same policy. */
export class WebRequest {
  readonly ctx: WorkloadContext;

  constructor(
    readonly deps: WebDeps,
    caller: Caller,
    audit: AuditLog,
    readonly facts: ImageFacts,
  ) {
    this.ctx = {
      perms: new Permissions(caller),
      store: deps.store,
      audit,
      requestId: newGuid(),
      jobs: deps.jobs,
      workloads: deps.workloads,
      services: deps.services,
    };
  }

  get perms(): Permissions {
    return this.ctx.perms;
  }
}

/** Makes WebRequests sharing one audit log and one cache of image facts. */
export function webRequests(deps: WebDeps): (caller: Caller) => WebRequest {
  const audit = new AuditLog(deps.store);
  const facts = new ImageFacts(deps.images);
  return (caller) => new WebRequest(deps, caller, audit, facts);
}

/** URLSearchParams for a list message, from plain values. */
export function query(values: Record<string, string>): URLSearchParams {
  return new URLSearchParams(values);
}
