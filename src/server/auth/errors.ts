import type { Access } from './types.js';

/** The two OCI Distribution error codes auth produces, with their HTTP statuses. */
export type RegistryAuthCode = 'UNAUTHORIZED' | 'DENIED';

/** One entry of an OCI error's `detail`, in the shape Distribution sends (clients print it). */
export interface AccessDetail {
  Type: string;
  Class?: string;
  Name: string;
  Action: string;
}

/**
 * Why a request may not go on: 401 UNAUTHORIZED (no, bad or insufficient credentials;
 * `challenge` is the `WWW-Authenticate` value telling the client how to authenticate)
 * or 403 DENIED (authenticated, but the action is not allowed and a token would not help).
 *
 * The route layer turns it into the OCI error body and header; `toResponse()` does
 * exactly that for routes that have nothing to add.
 *
 * @example
 * catch (err) { if (err instanceof RegistryAuthError) return err.toResponse(); throw err; }
 */
export class RegistryAuthError extends Error {
  readonly code: RegistryAuthCode;
  readonly status: 401 | 403;
  /** The `WWW-Authenticate` header value; set on every 401, absent on 403. */
  readonly challenge: string | undefined;
  /** The accesses that were asked for and not granted. */
  readonly access: Access[];

  constructor(
    code: RegistryAuthCode,
    message: string,
    options: { challenge?: string; access?: Access[]; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RegistryAuthError';
    this.code = code;
    this.status = code === 'UNAUTHORIZED' ? 401 : 403;
    this.challenge = options.challenge;
    this.access = options.access ?? [];
  }

  /** 401: the client must (re)authenticate as `challenge` says. */
  static unauthorized(message: string, challenge: string, access: Access[] = [], cause?: unknown): RegistryAuthError {
    return new RegistryAuthError('UNAUTHORIZED', message, { challenge, access, cause });
  }

  /** 403: authenticated, and still not allowed. */
  static denied(message: string, access: Access[] = []): RegistryAuthError {
    return new RegistryAuthError('DENIED', message, { access });
  }

  /** The OCI error's `detail`: one entry per refused action (the routes put it in the body). */
  get detail(): AccessDetail[] {
    return accessDetail(this.access);
  }

  /** The OCI error body: `{errors: [{code, message, detail}]}`. */
  body(): { errors: { code: RegistryAuthCode; message: string; detail: AccessDetail[] }[] } {
    return { errors: [{ code: this.code, message: this.message, detail: this.detail }] };
  }

  /** Response headers: content type, and `WWW-Authenticate` on a 401. */
  headers(): Record<string, string> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.challenge !== undefined) headers['WWW-Authenticate'] = this.challenge;
    return headers;
  }

  toResponse(): Response {
    return new Response(JSON.stringify(this.body()), { status: this.status, headers: this.headers() });
  }
}

export function isRegistryAuthError(err: unknown): err is RegistryAuthError {
  return err instanceof RegistryAuthError;
}

/** One detail entry per action, as Distribution lists them. */
function accessDetail(access: Access[]): AccessDetail[] {
  return access.flatMap((a) => a.actions.map((action) => ({ Type: a.type, Name: a.name, Action: action })));
}
