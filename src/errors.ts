/**
 * One error type for the whole code base: a stable machine `code`, a message that says
 * what was wrong and how to fix it, optional structured `detail`, and the `cause`.
 * Faces (CLI, HTTP) map codes to exit statuses and HTTP statuses in one place.
 *
 * This is a leaf module: every layer, `oci/` included, may import it.
 */
export type ErrorCode =
  // input that is not what it claims to be
  | 'INVALID_DIGEST'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'INVALID_REFERENCE'
  | 'INVALID_MEDIA_TYPE'
  | 'INVALID_DOCUMENT'
  | 'INVALID_ARGUMENT'
  | 'UNSAFE_ARCHIVE_ENTRY'
  // a path a container (or an archive) made into something the host will not follow
  | 'UNSAFE_PATH'
  | 'INVALID_ARCHIVE'
  | 'UNSUPPORTED'
  // lookups
  | 'NOT_FOUND'
  | 'BLOB_UNKNOWN'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_UNKNOWN'
  | 'RANGE_NOT_SATISFIABLE'
  | 'TOO_LARGE'
  // access
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'TOO_MANY_REQUESTS'
  // environment
  | 'IO_ERROR'
  | 'TOOL_MISSING'
  | 'TOOL_FAILED'
  | 'CONFLICT'
  // a service Slipway depends on (a database, an object store) that does not answer, after retries
  | 'UNAVAILABLE'
  // a sandboxed build that reached one of its limits (time, memory, processes, disk)
  | 'LIMIT_EXCEEDED'
  // work stopped because the process was told to end (a signal, a broken pipe)
  | 'INTERRUPTED'
  // stacks made from a distribution's packages
  | 'SUITE_UNKNOWN'
  | 'MIRROR_UNREACHABLE'
  | 'PACKAGE_UNKNOWN';

export class SlipwayError extends Error {
  readonly code: ErrorCode;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; detail?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SlipwayError';
    this.code = code;
    this.detail = options.detail;
  }
}

export function isSlipwayError(err: unknown, code?: ErrorCode): err is SlipwayError {
  return err instanceof SlipwayError && (code === undefined || err.code === code);
}

/** True for failures worth another try (a dropped connection, a 5xx or 429 answer): marked `detail.retryable` where they arise. */
export function isRetryable(err: unknown): boolean {
  return err instanceof SlipwayError && err.detail?.retryable === true;
}

/** True when `err` is a Node system error with one of the given `code`s (ENOENT, EEXIST, ...). */
export function isErrno(err: unknown, ...codes: string[]): err is NodeJS.ErrnoException {
  return (
    typeof err === 'object' && err !== null && 'code' in err && codes.includes(String((err as { code: unknown }).code))
  );
}
