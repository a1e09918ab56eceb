import { Hono } from 'hono';
import type { Context } from 'hono';
import { SlipwayError } from '../../errors.js';
import { ensureDefaultDomain } from '../../platform/actions/workload-context.js';
import { defineWorkloadJobs } from '../../platform/actions/workload-jobs.js';
import { AuditLog } from '../../platform/audit.js';
import { cfError, cfErrorOf, notAuthenticated, parseError } from '../../platform/cf-errors.js';
import { JobRunner } from '../../platform/jobs.js';
import { newGuid } from '../../platform/model.js';
import { Permissions } from '../../platform/policy.js';
import { openApiDocument } from './openapi.js';
import { Urls } from './presenters/common.js';
import type { Answer, Call, RouteDef, V3Deps } from './route.js';
import { V3_ROUTES } from './routes/index.js';

export type { V3Deps } from './route.js';

/** The largest request body the API reads (bodies are small JSON documents). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The v3 app, with its job runner (to resume the jobs a restart interrupted, and to
 * wait for them) and `ready()`, which makes what the API needs at start (the shared
 * default domain, when it has its workload).
 */
export type V3App = Hono & { jobs: JobRunner; ready(): Promise<void> };

/**
 * Cloud Foundry's v3 API (and its root documents) as a Hono app: each route of the
 * table validates its message, asks the use case (which asks the policy) and presents
 * CF's JSON; every error is CF's `{"errors":[{code,title,detail}]}`. The caller is
 * authenticated per request (`deps.authenticate`) and gets a Permissions object.
 *
 * @example
 * const app = createV3App({ store, authenticate, stacks, images, publicUrl: 'https://api.example.com' });
 * await app.jobs.resumeUnfinished();
 * const res = await app.request('/v3/organizations', { headers: { authorization: 'bearer ...' } });
 */
export function createV3App(deps: V3Deps): V3App {
  const clock = deps.clock ?? (() => new Date());
  const audit = new AuditLog(deps.store, clock);
  const jobs = new JobRunner({
    store: deps.store,
    images: deps.images,
    clock,
    onFailure: (job, err) => deps.onError?.(err, `job ${job.guid} (${job.operation})`),
  });
  if (deps.workloads && deps.services) defineWorkloadJobs(jobs, deps.workloads, deps.services);
  let document: Record<string, unknown> | undefined;
  const app = new Hono();

  for (const route of V3_ROUTES) {
    app.on(route.method.toUpperCase(), honoPath(route.path), (c) => handle(c, route));
  }
  app.get('/v3/openapi.json', (c) => {
    document ??= openApiDocument(V3_ROUTES);
    const urls = new Urls(baseUrl(c.req.raw, deps.publicUrl));
    return c.json({ ...document, servers: [{ url: urls.base }] });
  });
  app.notFound(() => errorResponse(cfError('NotFound')));
  app.onError((err, c) => {
    const e = cfErrorOf(err);
    if (e.status >= 500) deps.onError?.(err, `${c.req.method} ${new URL(c.req.url).pathname}`);
    return errorResponse(e);
  });

  async function handle(c: Context, route: RouteDef): Promise<Response> {
    const request = c.req.raw;
    const requestId = request.headers.get('x-vcap-request-id') ?? newGuid();
    const caller = route.public ? { kind: 'anonymous' as const } : await deps.authenticate(request);
    if (!route.public && caller.kind === 'anonymous') throw notAuthenticated();
    const perms = new Permissions(caller);
    const call: Call = {
      request,
      params: c.req.param() as Record<string, string>,
      query: new URL(request.url).searchParams,
      urls: new Urls(baseUrl(request, deps.publicUrl)),
      ctx: { perms, store: deps.store, audit, requestId, clock, jobs },
      deps,
      body: () => readJsonBody(request),
    };
    const answer = await route.handle(call);
    return jsonResponse(answer, requestId);
  }

  async function ready(): Promise<void> {
    if (deps.workloads && deps.services)
      await ensureDefaultDomain(deps.workloads, deps.services.defaultDomain, clock().toISOString());
  }

  return Object.assign(app, { jobs, ready });
}

/** /v3/apps/{guid} -> /v3/apps/:guid */
function honoPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

/** The API's base URL: `publicUrl` if set, else the request's (X-Forwarded-Proto and Host first). */
export function baseUrl(request: Request, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  const url = new URL(request.url);
  const proto = request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim() || url.protocol.replace(/:$/, '');
  const host =
    request.headers.get('x-forwarded-host')?.split(',')[0]?.trim() || request.headers.get('host') || url.host;
  return `${proto}://${host}`;
}

function jsonResponse(answer: Answer, requestId: string): Response {
  // 204 carries no body (the cf CLI reads it as {}); every other answer is JSON.
  const body = answer.status === 204 ? null : JSON.stringify(answer.body);
  return new Response(body, {
    status: answer.status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-vcap-request-id': requestId, ...answer.headers },
  });
}

function errorResponse(e: { status: number; code: number; title: string; detail: string }): Response {
  return new Response(JSON.stringify({ errors: [{ code: e.code, title: e.title, detail: e.detail }] }), {
    status: e.status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

/** A JSON object body of at most MAX_BODY_BYTES ({} when empty); CF's 400 MessageParseError otherwise. */
async function readJsonBody(request: Request): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw new SlipwayError('TOO_LARGE', 'Request is too large');
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
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw parseError('invalid request body');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw parseError('invalid request body');
  return value;
}
