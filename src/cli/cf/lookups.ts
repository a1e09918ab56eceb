import { SlipwayError } from '../../errors.js';
import type { CfClient } from './cf-client.js';

/** The fields of CF v3 resources that `slipway cf` reads. */
export interface CfOrg {
  guid: string;
  name: string;
  suspended?: boolean;
  created_at?: string;
}

export interface CfSpace {
  guid: string;
  name: string;
  created_at?: string;
  relationships?: { organization?: { data?: { guid?: string } } };
}

export interface CfApp {
  guid: string;
  name: string;
  state: string;
  created_at?: string;
  lifecycle?: { type?: string };
}

export interface CfUser {
  guid: string;
  username?: string | null;
  presentation_name?: string;
  origin?: string | null;
}

export interface CfRole {
  guid: string;
  type: string;
  relationships?: {
    user?: { data?: { guid?: string } };
    organization?: { data?: { guid?: string } | null };
    space?: { data?: { guid?: string } | null };
  };
}

/** OrgByName: `GET /v3/organizations?names=ORG&page=1&per_page=1`. */
export async function orgByName(client: CfClient, name: string): Promise<CfOrg> {
  const org = await client.first<CfOrg>('/v3/organizations', { names: [name] });
  if (!org) throw new SlipwayError('NOT_FOUND', `Organization '${name}' not found.`);
  return org;
}

/** SpaceByName: `GET /v3/spaces?names=SPACE&organization_guids=ORG&page=1&per_page=1`. */
export async function spaceByName(client: CfClient, name: string, orgGuid: string): Promise<CfSpace> {
  const space = await client.first<CfSpace>('/v3/spaces', { names: [name], organization_guids: [orgGuid] });
  if (!space) throw new SlipwayError('NOT_FOUND', `Space '${name}' not found.`);
  return space;
}

/** AppByName: `GET /v3/apps?names=APP&space_guids=SPACE`. */
export async function appByName(client: CfClient, name: string, spaceGuid: string): Promise<CfApp> {
  const { resources } = await client.list<CfApp>('/v3/apps', { names: [name], space_guids: [spaceGuid] });
  const app = resources[0];
  if (!app) throw new SlipwayError('NOT_FOUND', `App '${name}' not found`);
  return app;
}

/** A user's guid by name (`GET /v3/users?usernames=USER`): one, or "does not exist", or ambiguous. */
export async function userByName(client: CfClient, username: string): Promise<CfUser> {
  const { resources } = await client.list<CfUser>('/v3/users', { usernames: [username] });
  if (resources.length === 0) throw new SlipwayError('NOT_FOUND', `User '${username}' does not exist.`);
  if (resources.length > 1)
    throw new SlipwayError(
      'CONFLICT',
      `The username '${username}' is found in multiple origins: ${resources.map((u) => u.origin ?? 'client').join(', ')}.`,
    );
  return resources[0]!;
}

/** The names a user goes by in lists: presentation_name, else username, else guid. */
export function displayName(user: CfUser | undefined): string {
  return user?.presentation_name || user?.username || user?.guid || '';
}
