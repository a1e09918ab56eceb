import { isSlipwayError, type ErrorCode } from '../../errors.js';

/**
 * The distribution spec's error codes (spec.md "Error Codes") with the HTTP status
 * each one answers by default, plus the legacy codes Distribution still sends
 * (TAG_INVALID, RANGE_INVALID, PAGINATION_NUMBER_INVALID) and UNKNOWN for our own failures.
 */
export const REGISTRY_ERRORS = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type RegistryErrorCode = keyof typeof REGISTRY_ERRORS;

export interface RegistryErrorOptions {
  /** Overrides the code's default status (413 for a body over a limit, 416 for an out-of-order chunk). */
  status?: number;
  detail?: unknown;
  /** Response headers the error needs (WWW-Authenticate, Range, Location). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error the registry answers with `{errors:[{code,message,detail}]}`. */
export class RegistryError extends Error {
  readonly code: RegistryErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Record<string, string>;

  constructor(code: RegistryErrorCode, message?: string, options: RegistryErrorOptions = {}) {
    super(message ?? REGISTRY_ERRORS[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RegistryError';
    this.code = code;
    this.status = options.status ?? REGISTRY_ERRORS[code].status;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }
}

/**
 * What the auth helper throws (src/server/auth's RegistryAuthError): matched by shape,
 * not class, so the routes do not depend on how authentication is implemented.
 */
interface AuthFailure {
  status: number;
  challenge?: string;
  message: string;
  detail?: unknown;
}

function isAuthFailure(err: unknown): err is AuthFailure {
  if (!(err instanceof Error)) return false;
  const { status, challenge } = err as Partial<AuthFailure>;
  return (status === 401 || status === 403) && (challenge === undefined || typeof challenge === 'string');
}

// Store codes that mean the same thing everywhere. Codes whose meaning depends on the
// operation (a missing blob while pushing a manifest) are translated by the route first.
const FROM_STORE: Partial<Record<ErrorCode, RegistryErrorCode>> = {
  INVALID_DIGEST: 'DIGEST_INVALID',
  DIGEST_MISMATCH: 'DIGEST_INVALID',
  SIZE_MISMATCH: 'SIZE_INVALID',
  INVALID_REFERENCE: 'NAME_INVALID',
  INVALID_DOCUMENT: 'MANIFEST_INVALID',
  INVALID_MEDIA_TYPE: 'MANIFEST_INVALID',
  BLOB_UNKNOWN: 'BLOB_UNKNOWN',
  MANIFEST_UNKNOWN: 'MANIFEST_UNKNOWN',
  NAME_UNKNOWN: 'NAME_UNKNOWN',
  NOT_FOUND: 'NAME_UNKNOWN',
  TOO_LARGE: 'SIZE_INVALID',
  UNSUPPORTED: 'UNSUPPORTED',
  INVALID_ARGUMENT: 'UNSUPPORTED',
};

/** Any thrown value as a RegistryError: ours, the auth helper's, the store's, or UNKNOWN (500). */
export function toRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  if (isAuthFailure(err)) {
    const headers: Record<string, string> = err.challenge ? { 'WWW-Authenticate': err.challenge } : {};
    return new RegistryError(err.status === 401 ? 'UNAUTHORIZED' : 'DENIED', err.message, {
      headers,
      detail: err.detail,
      cause: err,
    });
  }
  if (isSlipwayError(err)) {
    if (err.code === 'TOO_MANY_REQUESTS') return tooManyRequests(err);
    const code = FROM_STORE[err.code];
    if (code === 'UNSUPPORTED' && err.code === 'INVALID_ARGUMENT')
      return new RegistryError(code, err.message, { status: 400, detail: err.detail, cause: err });
    if (code !== undefined) return new RegistryError(code, err.message, { detail: err.detail, cause: err });
    if (err.code === 'CONFLICT')
      return new RegistryError('DENIED', err.message, { status: 409, detail: err.detail, cause: err });
  }
  return new RegistryError('UNKNOWN', 'internal error', { cause: err });
}

/**
 * 429 TOOMANYREQUESTS (the spec's code; ours is TOO_MANY_REQUESTS), with Retry-After
 * when the error says how long to wait (`detail.retryAfterSeconds`, from login limits).
 */
function tooManyRequests(err: { message: string; detail?: Record<string, unknown> | undefined }): RegistryError {
  const seconds = err.detail?.['retryAfterSeconds'];
  const headers: Record<string, string> =
    typeof seconds === 'number' ? { 'Retry-After': String(Math.max(1, Math.ceil(seconds))) } : {};
  return new RegistryError('TOOMANYREQUESTS', err.message, { headers, detail: err.detail, cause: err });
}

/** The spec's error body for one error. */
export function errorBody(err: RegistryError): string {
  const entry: { code: string; message: string; detail?: unknown } = { code: err.code, message: err.message };
  if (err.detail !== undefined) entry.detail = err.detail;
  return JSON.stringify({ errors: [entry] });
}

/**
 * Rethrows a store error with another registry code: the same store code means
 * different things per operation (BLOB_UNKNOWN while pushing a manifest is the
 * client's MANIFEST_BLOB_UNKNOWN).
 */
export function translate<T>(promise: Promise<T>, map: Partial<Record<ErrorCode, RegistryErrorCode>>): Promise<T> {
  return promise.catch((err: unknown) => {
    if (isSlipwayError(err)) {
      const code = map[err.code];
      if (code !== undefined) throw new RegistryError(code, err.message, { detail: err.detail, cause: err });
    }
    throw err;
  });
}
