import { Command } from 'commander';
import { SlipwayError } from '../../../errors.js';
import { cfAction } from '../../cf/action.js';
import { isUnknownEndpoint } from '../../cf/api-errors.js';
import type { Named } from '../../cf/config.js';
import { type CfSpace, spaceByName } from '../../cf/lookups.js';
import { keyValueTable, table } from '../../cf/output.js';
import { confirm } from '../../cf/prompt.js';
import type { CfSession } from '../../cf/session.js';

/**
 * API tokens: Slipway's own resource, not CF's. A named token for CI, scoped to one
 * space, revocable, its secret shown once (`POST /v3/api_tokens`, `GET`, `DELETE
 * /v3/api_tokens/:guid`).
 */
interface ApiToken {
  guid: string;
  name: string;
  token?: string;
  created_at?: string;
  last_used_at?: string | null;
  revoked_at?: string | null;
  relationships?: { space?: { data?: { guid?: string } } };
}

const NO_API_TOKENS =
  'This server has no API tokens (/v3/api_tokens answered 404 Unknown request): it needs a newer slipway serve.';

/** An API token call; a server without the endpoint says so plainly. */
async function tokensApi<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isUnknownEndpoint(err)) throw new SlipwayError('UNSUPPORTED', NO_API_TOKENS, { cause: err });
    throw err;
  }
}

/** `-s SPACE` in the targeted org, else the targeted space. */
async function spaceOf(s: CfSession, name: string | undefined): Promise<Named> {
  if (name === undefined) return s.space();
  const space = await spaceByName(s.client, name, s.org().guid);
  return { guid: space.guid, name: space.name };
}

export function createApiTokenCommand(): Command {
  return new Command('create-api-token')
    .description('Create an API token for CI, scoped to one space (its secret is shown only once)')
    .argument('<NAME>', 'a name for the token')
    .option('-s <SPACE>', 'the space, in the targeted org (default: the targeted space)')
    .addHelpText(
      'after',
      `
The token acts in that space alone, with your roles there, until it is deleted.
It is shown now and never again: put it in your CI's secrets.

Examples:
  $ slipway cf create-api-token ci-deploy
  $ slipway cf create-api-token nightly -s staging --json`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: { s?: string }) => {
        const user = await s.check({ org: true, space: flags.s === undefined });
        const org = s.org();
        const space = await spaceOf(s, flags.s);
        s.say(`Creating API token ${name} for org ${org.name} / space ${space.name} as ${user.name}...`);
        const created = await tokensApi(() =>
          s.client.post<ApiToken>('/v3/api_tokens', {
            name,
            relationships: { space: { data: { guid: space.guid } } },
          }),
        );
        if (typeof created.token !== 'string' || created.token === '')
          throw new SlipwayError('INVALID_DOCUMENT', 'POST /v3/api_tokens answered no token');
        s.ok();
        s.say();
        s.done(
          {
            guid: created.guid,
            name: created.name,
            token: created.token,
            created_at: created.created_at ?? null,
            relationships: created.relationships ?? { space: { data: { guid: space.guid } } },
            org,
            space,
          },
          () =>
            `${keyValueTable([
              ['name:', created.name],
              ['space:', `${org.name} / ${space.name}`],
              ['token:', created.token!],
            ])}\n\nTIP: This is the only time the token is shown: keep it in your CI's secrets.`,
        );
      }),
    );
}

export function apiTokensCommand(): Command {
  return new Command('api-tokens')
    .description('List your API tokens (never their secrets), revoked ones too')
    .addHelpText(
      'after',
      `
Example:
  $ slipway cf api-tokens`,
    )
    .action(
      cfAction(async (s: CfSession) => {
        const user = await s.check();
        s.say(`Getting API tokens as ${user.name}...`);
        s.say();
        const { resources } = await tokensApi(() => s.client.list<ApiToken>('/v3/api_tokens'));
        const spaceGuids = [...new Set(resources.map(spaceGuid).filter((g) => g !== ''))];
        const spaces = new Map<string, string>();
        for (let i = 0; i < spaceGuids.length; i += 200) {
          const { resources: found } = await s.client.list<CfSpace>('/v3/spaces', {
            guids: spaceGuids.slice(i, i + 200),
          });
          for (const sp of found) spaces.set(sp.guid, sp.name);
        }
        const tokens = resources.map((t) => ({
          guid: t.guid,
          name: t.name,
          created_at: t.created_at ?? null,
          last_used_at: t.last_used_at ?? null,
          revoked_at: t.revoked_at ?? null,
          space: { guid: spaceGuid(t), name: spaces.get(spaceGuid(t)) ?? null },
        }));
        s.done({ tokens }, () =>
          tokens.length === 0
            ? 'No API tokens found.'
            : table(
                ['name', 'space', 'created', 'last used', 'revoked'],
                tokens.map((t) => [
                  t.name,
                  t.space.name ?? t.space.guid,
                  t.created_at ?? '',
                  t.last_used_at ?? '',
                  t.revoked_at ?? '',
                ]),
              ),
        );
      }),
    );
}

export function deleteApiTokenCommand(): Command {
  return new Command('delete-api-token')
    .description('Delete (revoke) an API token: it stops working at once')
    .argument('<NAME>', 'the token')
    .option('-s <SPACE>', 'the space of the token, in the targeted org (when several tokens have that name)')
    .option('-f', 'Force deletion without confirmation')
    .addHelpText(
      'after',
      `
A token that does not exist is a warning, not an error.

Example:
  $ slipway cf delete-api-token ci-deploy -f`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: { s?: string; f?: boolean }) => {
        const user = await s.check({ org: flags.s !== undefined });
        const space = flags.s === undefined ? undefined : await spaceOf(s, flags.s);
        if (!flags.f && !(await confirm(`Really delete the API token ${name}?`))) {
          s.say(`API token '${name}' has not been deleted.`);
          s.done({ name, deleted: false });
          return;
        }
        s.say(`Deleting API token ${name} as ${user.name}...`);
        const { resources } = await tokensApi(() => s.client.list<ApiToken>('/v3/api_tokens'));
        // Revoked tokens stay listed (with revoked_at): only a live one is deleted.
        const matches = resources.filter(
          (t) => t.name === name && !t.revoked_at && (!space || spaceGuid(t) === space.guid),
        );
        if (matches.length > 1)
          throw new SlipwayError(
            'CONFLICT',
            `${matches.length} API tokens are named '${name}': say which with -s SPACE (in the targeted org)`,
          );
        const found = matches[0];
        if (found) await tokensApi(() => s.client.delete(`/v3/api_tokens/${found.guid}`));
        else s.warn(`API token '${name}' does not exist.`);
        s.ok();
        s.done({ name, ...(found ? { guid: found.guid } : {}), deleted: found !== undefined });
      }),
    );
}

function spaceGuid(t: ApiToken): string {
  return t.relationships?.space?.data?.guid ?? '';
}
