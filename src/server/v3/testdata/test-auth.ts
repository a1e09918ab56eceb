import { SlipwayError } from '../../../errors.js';
import type { User } from '../../../platform/model.js';
import type { Caller } from '../../../platform/policy.js';
import type { PlatformStore } from '../../../platform/store/platform-store.js';

/**
 * TEST ONLY: stands in for token verification (JWTs and API tokens are someone else's
 * code). `Authorization: bearer test-<userGuid>` is that user with their roles as the
 * store has them now; any other bearer value is a bad token (401); no header is
 * anonymous. Never used outside tests.
 */
export function testOnlyAuthenticate(store: PlatformStore): (request: Request) => Promise<Caller> {
  return async (request) => {
    const header = request.headers.get('authorization');
    if (header === null) return { kind: 'anonymous' };
    const m = /^bearer test-(.+)$/i.exec(header);
    const user = m ? await store.getUser(m[1] as string) : undefined;
    if (!user) throw new SlipwayError('UNAUTHORIZED', 'invalid or expired token');
    return { kind: 'user', user, roles: await store.rolesOf(user.guid) };
  };
}

export function testToken(user: Pick<User, 'guid'>): string {
  return `bearer test-${user.guid}`;
}
