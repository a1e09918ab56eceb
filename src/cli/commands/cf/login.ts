import { Command } from 'commander';
import { SlipwayError, isSlipwayError } from '../../../errors.js';
import { cfAction } from '../../cf/action.js';
import { apiStatus } from '../../cf/api-errors.js';
import type { Named } from '../../cf/config.js';
import { keyValueTable } from '../../cf/output.js';
import { type CfOrg, type CfSpace, orgByName, spaceByName } from '../../cf/lookups.js';
import { ask, interactive, readStdin } from '../../cf/prompt.js';
import type { CfSession } from '../../cf/session.js';
import { decodeJwt } from '../../cf/token.js';

interface LoginFlags {
  a?: string;
  u?: string;
  p?: string;
  o?: string;
  s?: string;
  skipSslValidation?: boolean;
}

/** The cf CLI's minimum supported API version (v8). */
const MIN_API_VERSION = [3, 99, 0];
const MAX_LOGIN_TRIES = 3;

export function loginCommand(): Command {
  return new Command('login')
    .description('Log user in (and target an org and a space)')
    .option('-a <API_URL>', 'API endpoint (e.g. https://api.example.com); default: the one targeted before')
    .option('-u <USERNAME>', 'Username (asked for on a terminal when missing)')
    .option('-p <PASSWORD>', 'Password (default: $SLIPWAY_CF_PASSWORD, else asked for on a terminal)')
    .option('-o <ORG>', 'Org')
    .option('-s <SPACE>', 'Space')
    .option('--skip-ssl-validation', 'Skip verification of the API endpoint. Not recommended!')
    .addHelpText(
      'after',
      `
With one org (and one space) visible, login targets it; with several it asks on a
terminal, and targets none otherwise. Flags show in ps: prefer $SLIPWAY_CF_PASSWORD
or the prompt to -p.

Examples:
  $ slipway cf login -a http://127.0.0.1:9000 -u admin
  $ SLIPWAY_CF_PASSWORD="$PW" slipway cf login -a https://api.example.com -u alice -o acme -s dev
  $ slipway cf login -a https://10.0.0.5 --skip-ssl-validation -u admin`,
    )
    .action(cfAction(login));
}

async function login(s: CfSession, flags: LoginFlags): Promise<void> {
  const given = flags.a ?? s.config.api ?? (interactive() ? await ask('API endpoint: ') : undefined);
  if (!given?.trim()) throw new SlipwayError('INVALID_ARGUMENT', 'No API endpoint: pass -a API_URL.');
  if (flags.a !== undefined || s.config.api) s.say(`API endpoint: ${given}`);
  const api = normalizeApi(given.trim());
  const skipSslValidation = flags.skipSslValidation === true || (flags.a === undefined && s.config.skipSslValidation);

  // Targeting an API forgets the tokens and targets of the one before (the cf CLI's SetTarget).
  const config = s.config;
  for (const key of Object.keys(config) as (keyof typeof config)[]) delete config[key];
  config.api = api;
  if (skipSslValidation) config.skipSslValidation = true;
  const root = await s.client.rootInfo(api);
  Object.assign(config, { apiVersion: root.apiVersion, loginUrl: root.loginUrl, uaaUrl: root.uaaUrl });
  if (api.startsWith('http:'))
    s.warn('Warning: Insecure http API endpoint detected: secure https API endpoints are recommended');
  const version = root.apiVersion
    .match(/^(\d+)\.(\d+)\.(\d+)/)
    ?.slice(1)
    .map(Number);
  if (!version) s.warn("Warning: unable to determine whether targeted API's version meets minimum supported.");
  else if (compare(version, MIN_API_VERSION) < 0)
    s.warn(
      `Your targeted API's version (${root.apiVersion}) is less than the minimum supported API version (${MIN_API_VERSION.join('.')}). Some commands may not function correctly.`,
    );
  s.say();

  await authenticate(s, flags);
  await s.save();
  try {
    await targetAfterLogin(s, flags);
  } finally {
    await s.save();
    if (s.human) s.say(statusTable(s));
  }
  s.done(s.targetSummary());
}

/** The password grant, tried up to three times on a terminal (the flag's password only once, as the cf CLI). */
async function authenticate(s: CfSession, flags: LoginFlags): Promise<void> {
  const prompts = await s.client.loginPrompts();
  const label = (key: string, fallback: string) => prompts[key]?.[1] ?? fallback;
  const username = flags.u ?? (interactive() ? await ask(`${label('username', 'Email')}: `) : undefined);
  if (!username)
    throw new SlipwayError('INVALID_ARGUMENT', 'login needs a user name: pass -u USERNAME (or run it on a terminal)');
  let password = flags.p ?? process.env.SLIPWAY_CF_PASSWORD;
  let last: unknown;
  for (let attempt = 0; attempt < MAX_LOGIN_TRIES; attempt++) {
    if (attempt > 0 || password === undefined) {
      password = interactive() ? await ask(`${label('password', 'Password')}: `, true) : undefined;
      if (password === undefined) {
        if (attempt === 0)
          throw new SlipwayError(
            'INVALID_ARGUMENT',
            'login needs a password: pass -p PASSWORD, set $SLIPWAY_CF_PASSWORD, or run it on a terminal',
          );
        break;
      }
    }
    s.say();
    s.say('Authenticating...');
    try {
      await s.client.passwordGrant(username, password);
      s.ok();
      s.say();
      return;
    } catch (err) {
      if (apiStatus(err) !== 401 && apiStatus(err) !== 400) throw err;
      last = err;
      s.warn((err as Error).message);
      s.say();
    }
  }
  throw new SlipwayError(
    'UNAUTHORIZED',
    `Unable to authenticate as '${username}' at ${s.config.api}: ${last instanceof Error ? last.message : 'no password'}`,
    { cause: last },
  );
}

async function targetAfterLogin(s: CfSession, flags: LoginFlags): Promise<void> {
  const { client, config } = s;
  if (flags.o !== undefined) {
    const org = await orgByName(client, flags.o);
    config.org = { guid: org.guid, name: org.name };
  } else {
    let orgs = (await client.list<CfOrg>('/v3/organizations', { order_by: 'name' })).resources;
    if (flags.s !== undefined) {
      const withSpace: CfOrg[] = [];
      for (const org of orgs) {
        try {
          await spaceByName(client, flags.s, org.guid);
          withSpace.push(org);
        } catch (err) {
          if (!isSlipwayError(err, 'NOT_FOUND')) throw err;
        }
      }
      orgs = withSpace;
    }
    const org = orgs.length === 1 ? orgs[0] : await choose(s, orgs, 'Select an org:', 'Org');
    if (org) config.org = { guid: org.guid, name: org.name };
  }
  if (!config.org) return;
  s.say(`Targeted org ${config.org.name}.`);
  s.say();
  let space: CfSpace | undefined;
  if (flags.s !== undefined) space = await spaceByName(client, flags.s, config.org.guid);
  else {
    const spaces = (
      await client.list<CfSpace>('/v3/spaces', { order_by: 'name', organization_guids: [config.org.guid] })
    ).resources;
    space = spaces.length === 1 ? spaces[0] : await choose(s, spaces, 'Select a space:', 'Space');
  }
  if (space) {
    config.space = { guid: space.guid, name: space.name };
    s.say(`Targeted space ${space.name}.`);
    s.say();
  }
}

/** The cf CLI's menu: numbered names, a number or a name typed, enter skips. Nothing without a terminal. */
async function choose<T extends Named>(s: CfSession, items: T[], title: string, what: string): Promise<T | undefined> {
  if (items.length === 0 || !interactive()) return undefined;
  for (;;) {
    process.stderr.write(`${title}\n${items.map((it, i) => `${i + 1}. ${it.name}`).join('\n')}\n\n`);
    const answer = (await ask(`${what} (enter to skip): `))?.trim();
    if (!answer) return undefined;
    const byIndex = /^\d+$/.test(answer) ? items[Number(answer) - 1] : undefined;
    const found = byIndex ?? items.find((it) => it.name === answer);
    if (found) return found;
    if (!/^\d+$/.test(answer))
      throw new SlipwayError('NOT_FOUND', `${what === 'Org' ? 'Organization' : what} '${answer}' not found.`);
    s.say();
  }
}

/** What login shows at the end (the cf CLI's showStatus). */
function statusTable(s: CfSession): string {
  const t = s.targetSummary();
  const rows: [string, string][] = [
    ['API endpoint:', t.api ?? ''],
    ['API version:', t.apiVersion ?? ''],
  ];
  const pad = keyValueTable;
  if (!t.user) return `${pad(rows)}\nNot logged in. Use 'slipway cf login' to log in.`;
  rows.push(['user:', t.user]);
  if (!t.org) return `${pad(rows)}\nNo org or space targeted, use 'slipway cf target -o ORG -s SPACE'`;
  rows.push(['org:', t.org.name]);
  rows.push(['space:', t.space?.name ?? "No space targeted, use 'slipway cf target -s SPACE'"]);
  return pad(rows);
}

/** `-a` as the cf CLI takes it: trailing slashes trimmed, https:// when no scheme is given. */
export function normalizeApi(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

export function logoutCommand(): Command {
  return new Command('logout')
    .description('Log user out (revoking the tokens), and forget the targeted org and space')
    .addHelpText(
      'after',
      `
Example:
  $ slipway cf logout`,
    )
    .action(
      cfAction(async (s: CfSession) => {
        const user = s.targetSummary().user;
        s.say(`Logging out ${user ?? ''}...`);
        const access = decodeJwt(s.config.accessToken);
        if (access?.revocable === true && s.config.loginUrl) {
          // As the cf CLI: the refresh token's jti first, then the access token's; failures do not matter.
          for (const jti of [decodeJwt(s.config.refreshToken)?.jti, access.jti])
            if (typeof jti === 'string' && jti) await s.client.revoke(jti).catch(() => {});
        }
        s.forgetUser();
        await s.save();
        s.ok();
        s.done({ user, loggedOut: user !== null });
      }),
    );
}

export function targetCommand(): Command {
  return new Command('target')
    .description('Set or view the targeted org or space')
    .option('-o <ORG>', 'Organization')
    .option('-s <SPACE>', 'Space')
    .addHelpText(
      'after',
      `
With -o alone, an org with one space gets that space targeted too.

Examples:
  $ slipway cf target
  $ slipway cf target -o acme -s dev
  $ slipway cf target -s staging`,
    )
    .action(
      cfAction(async (s: CfSession, flags: { o?: string; s?: string }) => {
        await s.check();
        const { client, config } = s;
        try {
          if (flags.o !== undefined) {
            const org = await orgByName(client, flags.o);
            config.org = { guid: org.guid, name: flags.o };
            delete config.space;
            if (flags.s === undefined) {
              const { resources } = await client.list<CfSpace>('/v3/spaces', {
                order_by: 'name',
                organization_guids: [org.guid],
              });
              if (resources.length === 1) config.space = { guid: resources[0]!.guid, name: resources[0]!.name };
            }
          }
          if (flags.s !== undefined) {
            const org = s.org();
            const space = await spaceByName(client, flags.s, org.guid);
            config.space = { guid: space.guid, name: space.name };
          }
        } catch (err) {
          if (flags.o !== undefined) delete config.org;
          if (flags.o !== undefined || flags.s !== undefined) delete config.space;
          await s.save();
          throw err;
        }
        if (flags.o !== undefined || flags.s !== undefined) await s.save();
        s.done(s.targetSummary(), () => {
          const lines = [s.targetTable()];
          if (!config.org) lines.push("No org or space targeted, use 'slipway cf target -o ORG -s SPACE'");
          else if (!config.space) lines.push("No space targeted, use 'slipway cf target -s SPACE'");
          return lines.join('\n');
        });
      }),
    );
}

export function passwdCommand(): Command {
  return new Command('passwd')
    .description("Change user's password")
    .addHelpText(
      'after',
      `
Asks for the current password and the new one (twice) on a terminal; without one,
reads the current password and the new one from the first two lines of stdin.
Then log in again.

Examples:
  $ slipway cf passwd
  $ printf '%s\\n%s\\n' "$OLD" "$NEW" | slipway cf passwd`,
    )
    .action(
      cfAction(async (s: CfSession) => {
        const user = await s.check();
        let current: string | undefined;
        let next: string | undefined;
        let verify: string | undefined;
        if (interactive()) {
          current = await ask('Current password: ', true);
          next = await ask('New password: ', true);
          verify = await ask('Verify password: ', true);
        } else {
          [current, next, verify] = (await readStdin()).split(/\r?\n/);
          verify = verify || next;
        }
        if (!current || !next)
          throw new SlipwayError(
            'INVALID_ARGUMENT',
            'passwd needs the current and the new password: type them on a terminal, or give them as two lines on stdin',
          );
        s.say();
        s.say(`Changing password for user ${user.name}...`);
        if (next !== verify) throw new SlipwayError('INVALID_ARGUMENT', 'Password verification does not match.');
        await s.client.uaa('PUT', `Users/${encodeURIComponent(user.guid)}/password`, {
          oldPassword: current,
          password: next,
        });
        s.ok();
        s.forgetUser();
        await s.save();
        s.say('Please log in again.');
        s.done({ user: user.name, changed: true });
      }),
    );
}
