import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { SlipwayError, isErrno } from '../errors.js';
import { REPOSITORY_ACTIONS } from './scope.js';

/**
 * The registry's users and what they may do, kept in one JSON file (default
 * `$SLIPWAY_HOME/registry/users.json`, mode 0600). Written by `slipway registry user
 * add`; the server rereads it when it changes. Example:
 *
 * ```json
 * {
 *   "users": {
 *     "alice": {
 *       "passwordHash": "$argon2id$v=19$m=19456,t=2,p=1$...salt...$...hash...",
 *       "grants": [{ "prefix": "team/", "actions": ["pull", "push", "delete"] }],
 *       "catalog": true
 *     }
 *   },
 *   "anonymous": { "grants": [{ "prefix": "public/", "actions": ["pull"] }], "catalog": false }
 * }
 * ```
 *
 * A prefix matches whole path segments: `team/` (or `team`) covers `team` and
 * `team/app/x` but not `teammate/app`; `*` (or an empty prefix) covers every
 * repository. Actions are `pull`, `push`, `delete`, or `*` for all three. `catalog`
 * allows listing every repository (`GET /v2/_catalog`). Anonymous grants apply to
 * everyone, signed in or not.
 */

export type GrantAction = (typeof REPOSITORY_ACTIONS)[number] | '*';

export interface Grant {
  prefix: string;
  actions: GrantAction[];
}

export interface Permissions {
  grants: Grant[];
  catalog?: boolean;
}

export interface UserEntry extends Permissions {
  /**
   * An argon2id hash (`$argon2id$v=19$...`), or a bcrypt one (`$2b$...`) written
   * before argon2id, replaced at the user's next good login. Never the password.
   */
  passwordHash: string;
}

export interface UsersFile {
  users: Record<string, UserEntry>;
  anonymous: Permissions;
}

/** A PHC string of argon2id, what `user add` writes. */
export const ARGON2ID_HASH_RE =
  /^\$argon2id\$v=19\$m=\d{1,10},t=\d{1,10},p=\d{1,3}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;
/** bcrypt, what users files held before argon2id. */
export const BCRYPT_HASH_RE = /^\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}$/;
// Names a Basic header can carry (no colon) and a shell can type without quoting.
const USER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

const grantSchema = z.object({
  prefix: z
    .string()
    .regex(/^(\*|[a-z0-9._/-]*)$/, 'a repository prefix: lowercase name characters and "/", or "*" for all'),
  actions: z.array(z.enum([...REPOSITORY_ACTIONS, '*'])).min(1),
});
const permissionsSchema = z.object({ grants: z.array(grantSchema).default([]), catalog: z.boolean().optional() });
const usersFileSchema = z.object({
  users: z
    .record(
      z.string().regex(USER_NAME_RE, 'a user name: letters, digits, ".", "_", "@", "-"'),
      permissionsSchema.extend({
        passwordHash: z
          .string()
          .refine(
            (h) => ARGON2ID_HASH_RE.test(h) || BCRYPT_HASH_RE.test(h),
            'an argon2id hash ($argon2id$v=19$m=...) or a bcrypt one ($2b$NN$ + 53 characters)',
          ),
      }),
    )
    .default({}),
  anonymous: permissionsSchema.default({ grants: [] }),
});

/** A file with no users and nothing anonymous: everything is refused until users are added. */
export function emptyUsersFile(): UsersFile {
  return { users: {}, anonymous: { grants: [] } };
}

/** Where the users file lives unless `--users` says otherwise. */
export function defaultUsersPath(home: string): string {
  return join(home, 'registry', 'users.json');
}

/** Validates a parsed users file; INVALID_DOCUMENT names the first problems and the file. */
export function parseUsersFile(json: unknown, source = 'users file'): UsersFile {
  const parsed = usersFileSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.slice(0, 3).map((i) => {
    // A bad user name is reported by zod as a record key issue whose own issues say why.
    const message = i.code === 'invalid_key' ? (i.issues[0]?.message ?? i.message) : i.message;
    return `${i.path.join('.') || '(top)'}: ${message}`;
  });
  throw new SlipwayError('INVALID_DOCUMENT', `${source} is not a valid users file: ${problems.join('; ')}`, {
    detail: { source },
  });
}

/** Reads and validates the users file; NOT_FOUND says how to create one. */
export async function readUsersFile(path: string): Promise<UsersFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      throw new SlipwayError(
        'NOT_FOUND',
        `no users file at ${path}: create it with "slipway registry user add NAME --password-stdin --grant PREFIX:ACTIONS"`,
        { cause: err },
      );
    }
    throw new SlipwayError('IO_ERROR', `cannot read the users file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseUsersFile(JSON.parse(text), path);
  } catch (err) {
    if (err instanceof SyntaxError)
      throw new SlipwayError('INVALID_DOCUMENT', `${path} is not JSON: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Like readUsersFile, but a missing file is an empty one (the first `user add`). */
export async function readUsersFileOrEmpty(path: string): Promise<UsersFile> {
  try {
    return await readUsersFile(path);
  } catch (err) {
    if (err instanceof SlipwayError && err.code === 'NOT_FOUND') return emptyUsersFile();
    throw err;
  }
}

/**
 * Replaces the users file atomically (temp file, fsync, rename) with mode 0600: it
 * holds password hashes. Users are written sorted so diffs stay readable.
 */
export async function writeUsersFile(path: string, file: UsersFile): Promise<void> {
  const checked = parseUsersFile(file, 'the new users file');
  const users = Object.fromEntries(Object.entries(checked.users).sort(([a], [b]) => a.localeCompare(b)));
  const text = `${JSON.stringify({ users, anonymous: checked.anonymous }, null, 2)}\n`;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Checks a user name for `user add`; INVALID_ARGUMENT says what is allowed. */
export function checkUserName(name: string): string {
  if (!USER_NAME_RE.test(name)) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `"${name}" is not a valid user name: use letters, digits, ".", "_", "@", "-" (no ":"), at most 128 characters`,
    );
  }
  return name;
}

/**
 * Parses a `--grant PREFIX:ACTIONS` option: `team/:pull,push`, `public/:pull`,
 * `*:*` (everything). The prefix is everything before the last colon.
 */
export function parseGrant(text: string): Grant {
  const colon = text.lastIndexOf(':');
  const grant = {
    prefix: colon < 0 ? '' : text.slice(0, colon),
    actions: colon < 0 ? [] : text.slice(colon + 1).split(','),
  };
  const parsed = grantSchema.safeParse(grant);
  if (colon < 0 || !parsed.success) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `"${text}" is not a grant: write PREFIX:ACTIONS, e.g. team/:pull,push,delete or public/:pull or *:* (actions: pull, push, delete, *)`,
    );
  }
  return parsed.data;
}

/** True when the grant's prefix covers `repository` (whole path segments). */
export function prefixMatches(prefix: string, repository: string): boolean {
  const p = prefix.replace(/\/+$/, '');
  return p === '' || p === '*' || repository === p || repository.startsWith(`${p}/`);
}
