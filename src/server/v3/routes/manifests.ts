import { z } from 'zod';
import { SlipwayError } from '../../../errors.js';
import { applyManifest, diffManifest } from '../../../platform/actions/manifests.js';
import { parseManifest } from '../../../platform/messages/manifest.js';
import { type Call, JOB_ACCEPTED, jobAnswer, param, type RouteDef } from '../route.js';
import { workloadCtx } from './workload-call.js';

/** The largest manifest read (as the API's JSON bodies). */
const MAX_BODY_BYTES = 1024 * 1024;

/** The body as text, at most MAX_BODY_BYTES. */
async function readText(call: Call): Promise<string> {
  const request = call.request;
  if (Number(request.headers.get('content-length') ?? '0') > MAX_BODY_BYTES)
    throw new SlipwayError('TOO_LARGE', 'Request is too large');
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel();
        throw new SlipwayError('TOO_LARGE', 'Request is too large');
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function manifestOf(call: Call) {
  return parseManifest(call.request.headers.get('content-type'), await readText(call));
}

const DiffSchema = z
  .object({
    diff: z.array(
      z.object({
        op: z.enum(['add', 'replace', 'remove']),
        path: z.string(),
        was: z.unknown().optional(),
        value: z.unknown().optional(),
      }),
    ),
  })
  .meta({ id: 'ManifestDiff' });

export const MANIFEST_ROUTES: RouteDef[] = [
  {
    method: 'post',
    path: '/v3/spaces/{guid}/actions/apply_manifest',
    operationId: 'applyManifest',
    summary:
      'Apply a manifest (application/x-yaml) to a space (space developers): the apps now (STOPPED), the rest as a job whose warnings name ignored keys',
    tag: 'Manifests',
    responses: { 202: JOB_ACCEPTED },
    async handle(call) {
      const ctx = workloadCtx(call);
      const apps = await manifestOf(call);
      return jobAnswer(call, await applyManifest(ctx, call.deps.stacks, param(call, 'guid'), apps));
    },
  },
  {
    method: 'post',
    path: '/v3/spaces/{guid}/manifest_diff',
    operationId: 'diffManifest',
    summary: 'What applying a manifest (application/x-yaml) would change',
    tag: 'Manifests',
    responses: { 201: { description: 'The changes', schema: DiffSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      const apps = await manifestOf(call);
      return { status: 201, body: { diff: await diffManifest(ctx, param(call, 'guid'), apps) } };
    },
  },
];
