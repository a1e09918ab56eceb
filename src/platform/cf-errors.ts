import { isSlipwayError, SlipwayError } from '../errors.js';

/**
 * Cloud Foundry's error vocabulary (Cloud Controller's errors/v2.yml and v3.yml):
 * the code, title and HTTP status of each error the platform answers, and the one
 * mapping from a SlipwayError to it. The v3 API renders it as
 * `{"errors":[{"code","title","detail"}]}`; a failed job keeps it in its `errors`.
 *
 * Use cases raise SlipwayErrors with the helpers below (notFound, notAuthorized,
 * unprocessable, badQuery); the store's CONFLICT and INVALID_ARGUMENT carry CF's
 * own texts, which pass through as the detail.
 */
export const CF_ERRORS = {
  InvalidAuthToken: { code: 1000, status: 401, message: 'Invalid Auth Token' },
  MessageParseError: { code: 1001, status: 400, message: 'Request invalid due to parse error: %s' },
  NotFound: { code: 10000, status: 404, message: 'Unknown request' },
  ServerError: { code: 10001, status: 500, message: 'Server error' },
  NotAuthenticated: { code: 10002, status: 401, message: 'Authentication error' },
  NotAuthorized: { code: 10003, status: 403, message: 'You are not authorized to perform the requested action' },
  BadQueryParameter: { code: 10005, status: 400, message: 'The query parameter is invalid: %s' },
  UnprocessableEntity: { code: 10008, status: 422, message: '%s' },
  ResourceNotFound: { code: 10010, status: 404, message: '%s' },
  UniquenessError: { code: 10016, status: 422, message: '%s' },
  RequestTooLarge: { code: 10019, status: 413, message: 'Request is too large' },
  /** v2's RouteHostTaken (210003), answered 422 as v3 answers a route it cannot create: the route is another space's. */
  RouteTaken: { code: 210003, status: 422, message: '%s' },
  /** CC's BadRequest (1004): e.g. "Content-Type must be yaml", a multipart body it cannot read. */
  BadRequest: { code: 1004, status: 400, message: 'Bad request: %s' },
} as const satisfies Record<string, { code: number; status: number; message: string }>;

export type CfErrorName = keyof typeof CF_ERRORS;

/** One entry of CF's `errors` array, with the HTTP status it answers. */
export interface CfError {
  status: number;
  code: number;
  title: string;
  detail: string;
}

/** The CF error `name` with its detail (the message template filled with `arg`). */
export function cfError(name: CfErrorName, arg?: string): CfError {
  const e = CF_ERRORS[name];
  return {
    status: e.status,
    code: e.code,
    title: `CF-${name}`,
    detail: e.message.includes('%s') ? e.message.replace('%s', arg ?? '') : e.message,
  };
}

/** The resources whose "<Resource> not found" texts the API answers (the cf CLI matches some of them). */
export type ResourceName =
  | 'App'
  | 'Organization'
  | 'Space'
  | 'Role'
  | 'User'
  | 'Buildpack'
  | 'Stack'
  | 'Job'
  | 'Event'
  | 'ApiToken'
  | 'Package'
  | 'Build'
  | 'Droplet'
  | 'Process'
  | 'Domain'
  | 'Route'
  | 'Destination'
  | 'Deployment'
  | 'Revision'
  | 'StackRollout';

/** 404 CF-ResourceNotFound "<Resource> not found": it does not exist, or the caller may not see it. */
export function notFound(resource: ResourceName): SlipwayError {
  return new SlipwayError('NOT_FOUND', `${resource} not found`, { detail: { cf: 'ResourceNotFound' } });
}

/** 403 CF-NotAuthorized: the caller sees the resource but may not do this to it. */
export function notAuthorized(): SlipwayError {
  return new SlipwayError('DENIED', CF_ERRORS.NotAuthorized.message, { detail: { cf: 'NotAuthorized' } });
}

/** 422 CF-UnprocessableEntity with CF's detail text. */
export function unprocessable(detail: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', detail, { detail: { cf: 'UnprocessableEntity' } });
}

/** 400 CF-BadQueryParameter; `detail` is what follows "The query parameter is invalid: ". */
export function badQuery(detail: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', detail, { detail: { cf: 'BadQueryParameter' } });
}

/** 400 CF-BadRequest "Bad request: <detail>" (CC: a manifest that is not YAML, an upload it cannot read). */
export function badRequest(detail: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', detail, { detail: { cf: 'BadRequest' } });
}

/** 422 CF-UniquenessError (an app name taken in its space, as CC answers it). */
export function uniqueness(detail: string): SlipwayError {
  return new SlipwayError('CONFLICT', detail, { detail: { cf: 'UniquenessError' } });
}

/** 401 CF-NotAuthenticated: no credentials where the API needs them. */
export function notAuthenticated(): SlipwayError {
  return new SlipwayError('UNAUTHORIZED', CF_ERRORS.NotAuthenticated.message, { detail: { cf: 'NotAuthenticated' } });
}

/** 400 CF-MessageParseError: a body that is not a JSON object. */
export function parseError(detail: string): SlipwayError {
  return new SlipwayError('INVALID_DOCUMENT', detail, { detail: { cf: 'MessageParseError' } });
}

const BY_CODE: Partial<Record<SlipwayError['code'], CfErrorName>> = {
  NOT_FOUND: 'ResourceNotFound',
  DENIED: 'NotAuthorized',
  UNAUTHORIZED: 'InvalidAuthToken',
  INVALID_ARGUMENT: 'UnprocessableEntity',
  CONFLICT: 'UnprocessableEntity',
  INVALID_DOCUMENT: 'MessageParseError',
  TOO_LARGE: 'RequestTooLarge',
};

/**
 * The CF error an error answers. A SlipwayError made by the helpers above names its
 * CF error; otherwise its code decides (CONFLICT and INVALID_ARGUMENT are 422 with the
 * message as the detail, as CC answers a name taken or a rule broken). Anything else is
 * a 500 CF-ServerError whose detail says nothing of the cause.
 */
export function cfErrorOf(err: unknown): CfError {
  if (!isSlipwayError(err)) return cfError('ServerError');
  const named = err.detail?.cf;
  const name: CfErrorName | undefined =
    typeof named === 'string' && named in CF_ERRORS ? (named as CfErrorName) : BY_CODE[err.code];
  if (name === undefined || name === 'ServerError') return cfError('ServerError');
  const template: string = CF_ERRORS[name].message;
  return cfError(name, template.includes('%s') ? err.message : undefined);
}
