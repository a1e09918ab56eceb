import { type ErrorCode, SlipwayError, isSlipwayError } from '../../errors.js';

/** One entry of CF's `{"errors":[...]}`. */
export interface CfErrorEntry {
  code: number;
  title: string;
  detail: string;
}

/** What a CF or UAA error answer carries, kept in the SlipwayError's `detail`. */
export interface ApiErrorDetail {
  status: number;
  /** CF's errors (Cloud Controller answers). */
  errors?: CfErrorEntry[];
  /** UAA's `error` (UAA answers). */
  uaaError?: string;
  retryable?: boolean;
}

function codeOf(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  if (status === 413) return 'TOO_LARGE';
  if (status === 429) return 'TOO_MANY_REQUESTS';
  if (status >= 500) return 'IO_ERROR';
  return 'INVALID_ARGUMENT';
}

const isRetryStatus = (status: number) => status === 500 || status === 502 || status === 503 || status === 504;

/**
 * A Cloud Controller error answer as a SlipwayError whose message is CF's `detail`
 * (all of them, one per line, when there are several), as the cf CLI prints them. A
 * 401 adds how to get a new token; an answer that is not CF's error JSON says what came.
 */
export function cfApiError(method: string, url: string, status: number, text: string): SlipwayError {
  const errors = parseCfErrors(text);
  const detail: ApiErrorDetail = {
    status,
    ...(errors ? { errors } : {}),
    ...(isRetryStatus(status) ? { retryable: true } : {}),
  };
  if (!errors || errors.length === 0)
    return new SlipwayError(
      codeOf(status),
      `Unexpected Response from ${method} ${url}: status ${status}${text.trim() ? `: ${oneLine(text)}` : ''}`,
      { detail: { ...detail } },
    );
  let message = errors.map((e) => e.detail).join('\n');
  if (status === 401) message = `${message}. Use 'slipway cf login' to log in again.`;
  return new SlipwayError(codeOf(status), message, { detail: { ...detail } });
}

/**
 * A UAA error answer (`{"error","error_description"}`) as the cf CLI words it: bad
 * credentials are "Credentials were rejected, please try again.", an invalid token
 * says to log in again, a missing scope is CF's "not authorized".
 */
export function uaaApiError(method: string, url: string, status: number, text: string): SlipwayError {
  let error: string | undefined;
  let description: string | undefined;
  try {
    const body = JSON.parse(text) as { error?: unknown; error_description?: unknown };
    if (typeof body.error === 'string') error = body.error;
    if (typeof body.error_description === 'string') description = body.error_description;
  } catch {
    // not JSON: said below
  }
  const detail: ApiErrorDetail = {
    status,
    ...(error ? { uaaError: error } : {}),
    ...(isRetryStatus(status) ? { retryable: true } : {}),
  };
  let message: string;
  if (error === undefined)
    message = `Unexpected Response from ${method} ${url}: status ${status}${text.trim() ? `: ${oneLine(text)}` : ''}`;
  else if (status === 401 && error === 'invalid_token')
    message =
      "The token expired, was revoked, or the token ID is incorrect. Please log back in to re-authenticate with 'slipway cf login'.";
  else if (status === 401 && description === 'Bad credentials')
    message = 'Credentials were rejected, please try again.';
  else if (status === 403 && error === 'insufficient_scope')
    message = 'You are not authorized to perform the requested action';
  else message = description ?? error;
  return new SlipwayError(codeOf(status), message, { detail: { ...detail } });
}

/** CF's error entries of an answer body; undefined when it is not CF's error JSON. */
function parseCfErrors(text: string): CfErrorEntry[] | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const list = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(list)) return undefined;
  return list.map((e: Record<string, unknown>) => ({
    code: typeof e.code === 'number' ? e.code : 0,
    title: typeof e.title === 'string' ? e.title : '',
    detail: typeof e.detail === 'string' ? e.detail : '',
  }));
}

/** The status of a CF or UAA error; undefined for any other error. */
export function apiStatus(err: unknown): number | undefined {
  return isSlipwayError(err) ? (err.detail as ApiErrorDetail | undefined)?.status : undefined;
}

/** The first CF error entry of a CF error; undefined for any other error. */
export function cfErrorOf(err: unknown): CfErrorEntry | undefined {
  return isSlipwayError(err) ? (err.detail as ApiErrorDetail | undefined)?.errors?.[0] : undefined;
}

/** True when `err` is a 422 whose CF detail matches `pattern` (the cf CLI's idempotent cases). */
export function isUnprocessable(err: unknown, pattern: RegExp): boolean {
  const entry = cfErrorOf(err);
  return apiStatus(err) === 422 && entry !== undefined && pattern.test(entry.detail);
}

/** 404 "Unknown request": the server has no such endpoint (the cf CLI's APINotFoundError). */
export function isUnknownEndpoint(err: unknown): boolean {
  return apiStatus(err) === 404 && cfErrorOf(err)?.detail === 'Unknown request';
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}...` : flat;
}
