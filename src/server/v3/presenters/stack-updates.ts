import { z } from 'zod';
import type { StackUpdateReport } from '../../../platform/actions/stack-updates.js';
import type { App, Organization, Space } from '../../../platform/model.js';
import type { Droplet } from '../../../platform/workload.js';

const Named = z.object({ guid: z.string(), name: z.string() });

export const StackRolloutSchema = z
  .object({
    stack: z.string(),
    version: z.string(),
    new_version: z.boolean(),
    apps: z.array(
      z.object({
        app: Named,
        status: z.enum(['rolled', 'rebased', 'current', 'pinned', 'failed']),
        from: z.string(),
        to: z.string(),
        droplet_guid: z.string().optional(),
        digest: z.string().optional(),
        previous_digest: z.string().optional(),
        deployment_guid: z.string().optional(),
        reason: z.string().optional(),
        seconds: z.number(),
      }),
    ),
    seconds: z.number(),
    update_seconds: z.number(),
  })
  .meta({ id: 'StackRollout', description: 'Slipway: which app runs which stack version after an update' });

export function presentStackRollout(r: StackUpdateReport): z.infer<typeof StackRolloutSchema> {
  return {
    stack: r.stack,
    version: r.version,
    new_version: r.newVersion,
    apps: r.apps.map((a) => ({
      app: { guid: a.app.guid, name: a.app.name },
      status: a.status,
      from: a.from,
      to: a.to,
      ...(a.droplet
        ? { droplet_guid: a.droplet.guid, digest: a.droplet.digest, previous_digest: a.droplet.previousDigest }
        : {}),
      ...(a.deploymentGuid ? { deployment_guid: a.deploymentGuid } : {}),
      ...(a.reason ? { reason: a.reason } : {}),
      seconds: a.seconds,
    })),
    seconds: r.seconds,
    update_seconds: r.updateSeconds,
  };
}

export const AppsBehindSchema = z
  .object({
    resources: z.array(
      z.object({
        app: Named,
        space: Named,
        organization: Named,
        stack: z.string(),
        stack_version: z.string(),
        latest_version: z.string(),
        auto_rebase: z.boolean(),
        droplet_guid: z.string(),
      }),
    ),
  })
  .meta({ id: 'AppsBehind', description: 'Slipway: apps whose droplet is on an older version of its stack' });

export function presentAppsBehind(
  rows: { app: App; droplet: Droplet; latest: string; space: Space; org: Organization }[],
): z.infer<typeof AppsBehindSchema> {
  return {
    resources: rows.map((r) => ({
      app: { guid: r.app.guid, name: r.app.name },
      space: { guid: r.space.guid, name: r.space.name },
      organization: { guid: r.org.guid, name: r.org.name },
      stack: r.droplet.stack,
      stack_version: r.droplet.stackVersion,
      latest_version: r.latest,
      auto_rebase: r.app.autoRebase !== false,
      droplet_guid: r.droplet.guid,
    })),
  };
}
