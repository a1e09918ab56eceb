import type { z } from 'zod';
import type { DeleteContext } from '../../platform/actions/context.js';
import type { StackSource } from '../../platform/actions/stacks.js';
import type { StackUpdates } from '../../platform/actions/stack-updates.js';
import type { AppImages } from '../../platform/jobs.js';
import type { ParsedList } from '../../platform/messages/list-query.js';
import type { Job } from '../../platform/model.js';
import type { Caller } from '../../platform/policy.js';
import type { ListQuery, Page, PlatformStore } from '../../platform/store/platform-store.js';
import type { WorkloadStore } from '../../platform/store/workload-store.js';
import type { WorkloadServices } from '../../platform/workload-services.js';
import { paginatedSchema, presentPagination, type Urls } from './presenters/common.js';
import { JobSchema, presentJob } from './presenters/platform.js';

/**
 * The v3 API's route table: each route says its method, path, messages (query and
 * body schemas), answers and handler. The same table registers the Hono routes and
 * writes the OpenAPI document, so neither can drift from the other.
 */

export interface V3Deps {
  store: PlatformStore;
  /** The caller of a request: throws a SlipwayError UNAUTHORIZED for a bad or expired token; anonymous without Authorization. */
  authenticate(request: Request): Promise<Caller>;
  stacks: StackSource;
  images: AppImages;
  /** The API's public base URL (https://api.example.com); else the request's scheme (X-Forwarded-Proto) and Host. */
  publicUrl?: string;
  clock?: () => Date;
  /** Told of unexpected errors (answered 500 CF-ServerError, or a job that failed) and where; must not throw. */
  onError?: (err: unknown, where: string) => void;
  /** The build shown by /v3/info. */
  build?: string;
  /**
   * What makes apps run (packages, builds, droplets, processes, routes, deployments):
   * the workload routes need it (and `services`); without them they answer 500.
   */
  workloads?: WorkloadStore;
  /** The package bits, instance stats, app logs, the loops' nudges and the default domain. */
  services?: WorkloadServices;
  /** Stack updates and rollouts (Slipway's patching story); without it those routes answer 500. */
  stackUpdates?: StackUpdates;
}

/** What a handler gets: the request, its parsed parts and the use cases' context. */
export interface Call {
  request: Request;
  params: Record<string, string>;
  query: URLSearchParams;
  urls: Urls;
  /** The caller's permissions, the store, the audit trail, the request id and the job runner. */
  ctx: DeleteContext;
  deps: V3Deps;
  /** The JSON body (an object; {} when empty); 400 CF-MessageParseError otherwise. */
  body(): Promise<unknown>;
}

/** A handler's answer: rendered as JSON (every answer has a body, as the cf CLI needs). */
export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type Method = 'get' | 'post' | 'patch' | 'delete';

export interface RouteDef {
  method: Method;
  /** OpenAPI form: /v3/apps/{guid}. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** Answered without a signed-in caller (the root documents). */
  public?: boolean;
  query?: z.ZodObject;
  body?: z.ZodType;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handle(call: Call): Promise<Answer>;
}

/** The path parameter `name` (Hono decodes it). */
export function param(call: Call, name: string): string {
  return call.params[name] ?? '';
}

/** A paginated list answer. */
export function listAnswer<T>(
  call: Call,
  path: string,
  parsed: { page: ListQuery; linkParams: Record<string, string> },
  page: Page<T>,
  present: (item: T, urls: Urls) => unknown,
  included?: unknown,
): Answer {
  const body: Record<string, unknown> = {
    pagination: presentPagination(call.urls, path, parsed.page, parsed.linkParams, page.total),
    resources: page.items.map((i) => present(i, call.urls)),
  };
  if (included !== undefined) body.included = included;
  return { status: 200, body };
}

/** 202 with the job's absolute Location (and the job as the body: the cf CLI decodes every answer). */
export function jobAnswer(call: Call, job: Job): Answer {
  return {
    status: 202,
    body: presentJob(job, call.urls),
    headers: { Location: call.urls.href(`/v3/jobs/${job.guid}`) },
  };
}

export const JOB_ACCEPTED = { description: 'Accepted: a job runs it; Location is the job', schema: JobSchema };

export function listResponses(resource: z.ZodType, included?: z.ZodType) {
  return { 200: { description: 'A page of the list', schema: paginatedSchema(resource, included) } };
}

/** The list message's ParsedList for a handler, typed by the message. */
export type Parsed<M extends { parse(q: URLSearchParams): ParsedList<unknown> }> = ReturnType<M['parse']>;
