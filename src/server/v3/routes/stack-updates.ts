import { SlipwayError } from '../../../errors.js';
import { getStack } from '../../../platform/actions/stacks.js';
import type { StackUpdates } from '../../../platform/actions/stack-updates.js';
import { parseBody } from '../../../platform/messages/common.js';
import { StackUpdateMessage } from '../../../platform/messages/stack-updates.js';
import {
  AppsBehindSchema,
  presentAppsBehind,
  presentStackRollout,
  StackRolloutSchema,
} from '../presenters/stack-updates.js';
import { JOB_ACCEPTED, jobAnswer, param, type Call, type RouteDef } from '../route.js';
import { workloadCtx } from './workload-call.js';

/** Slipway's extensions for the patching story: update a stack and roll every app onto it; list who is behind. */

function stackUpdates(call: Call): StackUpdates {
  const updates = call.deps.stackUpdates;
  if (!updates)
    throw new SlipwayError('INVALID_ARGUMENT', 'the v3 app was made without deps.stackUpdates', {
      detail: { cf: 'ServerError' },
    });
  return updates;
}

const tag = 'Stacks';

export const STACK_UPDATE_ROUTES: RouteDef[] = [
  {
    method: 'post',
    path: '/v3/stacks/{guid}/actions/update',
    operationId: 'updateStack',
    summary:
      'Slipway: make the stack’s next version (admins); with rollout, rebase every app on an older version and roll it out',
    tag,
    body: StackUpdateMessage,
    responses: { 202: JOB_ACCEPTED },
    async handle(call) {
      const input = parseBody(StackUpdateMessage, await call.body());
      const stack = await getStack(call.ctx.perms, call.deps.stacks, param(call, 'guid'));
      const job = await stackUpdates(call).start(workloadCtx(call), stack.name, {
        rollout: input.rollout ?? false,
        maxInFlight: input.max_in_flight ?? 4,
        runPackages: input.run_packages ?? [],
        buildPackages: input.build_packages ?? [],
        removePackages: input.remove_packages ?? [],
        refresh: input.refresh ?? false,
      });
      return jobAnswer(call, job);
    },
  },
  {
    method: 'get',
    path: '/v3/stack_rollouts/{guid}',
    operationId: 'getStackRollout',
    summary:
      'Slipway: the report of a finished stack update job (by the job’s guid): which app runs which stack version',
    tag,
    responses: { 200: { description: 'The report', schema: StackRolloutSchema } },
    async handle(call) {
      return {
        status: 200,
        body: presentStackRollout(stackUpdates(call).report(workloadCtx(call), param(call, 'guid'))),
      };
    },
  },
  {
    method: 'get',
    path: '/v3/apps_behind',
    operationId: 'listAppsBehind',
    summary: 'Slipway: the apps you can see whose droplet is on an older version of its stack (pinned ones too)',
    tag: 'Apps',
    responses: { 200: { description: 'The apps', schema: AppsBehindSchema } },
    async handle(call) {
      return { status: 200, body: presentAppsBehind(await stackUpdates(call).behind(workloadCtx(call))) };
    },
  },
];
