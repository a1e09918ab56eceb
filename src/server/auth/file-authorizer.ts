import { stat } from 'node:fs/promises';
import { SlipwayError } from '../../errors.js';
import { PasswordChecker, hashPassword, needsRehash } from '../../auth/password.js';
import type { Access, Authorizer } from './types.js';
import { REPOSITORY_ACTIONS } from '../../auth/scope.js';
import {
  prefixMatches,
  readUsersFile,
  writeUsersFile,
  type Permissions,
  type UsersFile,
} from '../../auth/users-file.js';

export interface FileAuthorizerOptions {
  /** How often at most the file is checked for changes; default 1 s. */
  reloadIntervalMs?: number;
  /** Told when a changed file cannot be used; the last good one stays in force. */
  onReloadError?: (err: unknown) => void;
  /** Told when a password rehashed to argon2id cannot be written back (the login still succeeds). */
  onRehashError?: (err: unknown) => void;
}

/**
 * An Authorizer over a users file (see users-file.ts): a user gets the actions of
 * every grant whose prefix covers the repository, plus the anonymous grants. Edits to
 * the file (`slipway registry user add` while the server runs) take effect within
 * `reloadIntervalMs`; a broken edit is reported and ignored.
 *
 * @example
 * const authorizer = await FileAuthorizer.open('/srv/slipway/registry/users.json');
 * await authorizer.authorize('alice', { type: 'repository', name: 'team/app', actions: ['pull', 'push'] });
 */
export class FileAuthorizer implements Authorizer {
  readonly path: string | undefined;
  #config: UsersFile;
  #version = '';
  #checkedAt = 0;
  #reloading: Promise<void> | undefined;
  readonly #options: FileAuthorizerOptions;
  readonly #passwords = new PasswordChecker();
  readonly #upgrading = new Map<string, Promise<void>>();

  /** From a config in memory; with a `path`, the file is watched for changes. */
  constructor(config: UsersFile, path?: string, options: FileAuthorizerOptions = {}) {
    this.#config = config;
    this.path = path;
    this.#options = options;
  }

  /** Reads the file now (NOT_FOUND / INVALID_DOCUMENT when it cannot be used) and watches it. */
  static async open(path: string, options: FileAuthorizerOptions = {}): Promise<FileAuthorizer> {
    // Version first: a change between the two reads then only costs one extra reload.
    const version = await fileVersion(path).catch(() => '');
    const authorizer = new FileAuthorizer(await readUsersFile(path), path, options);
    authorizer.#version = version;
    authorizer.#checkedAt = Date.now();
    return authorizer;
  }

  async authorize(user: string | undefined, requested: Access): Promise<Access> {
    const config = await this.#current();
    const permissions = [config.anonymous];
    const entry = user === undefined ? undefined : Object.hasOwn(config.users, user) ? config.users[user] : undefined;
    if (entry) permissions.push(entry);
    return { type: requested.type, name: requested.name, actions: allowedActions(permissions, requested) };
  }

  /**
   * Checks the password (argon2id off the event loop; an older bcrypt hash on a
   * worker thread). A good password behind a bcrypt hash is rehashed to argon2id and
   * written back to the file before the answer: the next login is argon2id.
   */
  async login(user: string, password: string): Promise<string | undefined> {
    const config = await this.#current();
    const entry = Object.hasOwn(config.users, user) ? config.users[user] : undefined;
    const ok = await this.#passwords.verify(password, entry?.passwordHash);
    if (ok && entry !== undefined && needsRehash(entry.passwordHash))
      await this.#upgrade(user, password, entry.passwordHash);
    return ok ? user : undefined;
  }

  /** One rehash per user at a time; a failure to write is reported, and the login still succeeds. */
  #upgrade(user: string, password: string, oldHash: string): Promise<void> {
    let upgrading = this.#upgrading.get(user);
    if (upgrading === undefined) {
      upgrading = this.#rehash(user, password, oldHash)
        .catch((err: unknown) =>
          this.#options.onRehashError?.(
            new SlipwayError(
              'IO_ERROR',
              `cannot rehash the password of ${user} to argon2id: ${(err as Error).message}`,
              { cause: err },
            ),
          ),
        )
        .finally(() => this.#upgrading.delete(user));
      this.#upgrading.set(user, upgrading);
    }
    return upgrading;
  }

  async #rehash(user: string, password: string, oldHash: string): Promise<void> {
    const passwordHash = await hashPassword(password);
    const replace = (file: UsersFile): UsersFile | undefined => {
      const entry = Object.hasOwn(file.users, user) ? file.users[user] : undefined;
      // Changed meanwhile (a new password, a removed user): leave it as it is now.
      if (entry?.passwordHash !== oldHash) return undefined;
      return { ...file, users: { ...file.users, [user]: { ...entry, passwordHash } } };
    };
    if (this.path === undefined) {
      this.#config = replace(this.#config) ?? this.#config;
      return;
    }
    // The file as it is now, not as last loaded: `user add` may have written it since.
    const updated = replace(await readUsersFile(this.path));
    if (updated === undefined) return;
    await writeUsersFile(this.path, updated);
    // The version is left as it was: the next look rereads the file, whoever wrote it last.
    this.#config = updated;
  }

  /** The config, reloaded first when the file changed since the last look. */
  async #current(): Promise<UsersFile> {
    if (this.path !== undefined && Date.now() - this.#checkedAt >= (this.#options.reloadIntervalMs ?? 1000)) {
      // One reload at a time; concurrent requests wait for it rather than each re-reading.
      this.#reloading ??= this.#reload(this.path).finally(() => (this.#reloading = undefined));
      await this.#reloading;
    }
    return this.#config;
  }

  async #reload(path: string): Promise<void> {
    this.#checkedAt = Date.now();
    try {
      const version = await fileVersion(path);
      if (version === this.#version) return;
      this.#config = await readUsersFile(path);
      this.#version = version;
    } catch (err) {
      this.#options.onReloadError?.(err);
    }
  }
}

/** Which of the requested actions the permissions allow. */
function allowedActions(permissions: Permissions[], requested: Access): string[] {
  if (requested.type === 'registry') {
    const catalog = requested.name === 'catalog' && permissions.some((p) => p.catalog === true);
    return catalog ? requested.actions : [];
  }
  const allowed = new Set<string>();
  for (const p of permissions)
    for (const g of p.grants) if (prefixMatches(g.prefix, requested.name)) for (const a of g.actions) allowed.add(a);
  if (allowed.has('*')) for (const a of REPOSITORY_ACTIONS) allowed.add(a);
  // Listing tags is part of pulling.
  if (allowed.has('pull')) allowed.add('list');
  // `*` asked for is only granted whole.
  return requested.actions.filter((a) =>
    a === '*' ? REPOSITORY_ACTIONS.every((x) => allowed.has(x)) : allowed.has(a),
  );
}

/** Changes whenever the file is replaced or rewritten. */
async function fileVersion(path: string): Promise<string> {
  const st = await stat(path);
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}
