/**
 * `slipway cf ...` against a real `slipway serve`, driven as an operator and a user
 * would: the admin logs in, makes an org, a space and a user, gives a role; the user
 * logs in and sees only what the role shows; roles are removed, spaces and orgs
 * deleted (jobs), tokens refreshed and revoked. Every command's --json parses; errors
 * are one line and a non-zero exit.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CfClient } from '../src/cli/cf/cf-client.js';
import { type CliResult, ROOT, commandExists, slipway, tempDir } from './helpers.js';

interface Platform {
  url: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/**
 * `slipway --json serve --addr 127.0.0.1:0 --no-run ARGS` from source; resolves with the URL it
 * prints. --no-run: these tests run no app, and a server that runs them listens with its router
 * on port 8080 too, which two servers at once (or another test's) cannot share.
 */
function startPlatform(home: string, args: string[]): Promise<Platform> {
  const child = spawn(
    process.execPath,
    [
      '--',
      join(ROOT, 'bin/slipway.js'),
      '--json',
      'serve',
      '--addr',
      '127.0.0.1:0',
      '--gc-interval',
      '0',
      '--no-run',
      ...args,
    ],
    { env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      let url: string | undefined;
      try {
        url = (JSON.parse(stdout) as { url?: string }).url;
      } catch {
        return; // not the whole document yet
      }
      if (url === undefined) {
        // An error document ({"error": ...}): serve could not start.
        reject(new Error(`slipway serve printed no URL:\n${stdout}\n${stderr}`));
        return;
      }
      resolve({
        url,
        child,
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
      });
    });
    void exited.then(() => reject(new Error(`slipway serve exited before serving:\n${stderr}`)));
  });
}

const ADMIN_PASSWORD = 'admin-secret-1';
const ALICE_PASSWORD = 'alice-secret-1';

let dir: { path: string; cleanup: () => Promise<void> };
let platform: Platform;
/** The configs of the two people using the CLI: the operator and a developer. */
let adminConfig: string;
let aliceConfig: string;

/** `slipway cf ARGS` with the config at `config`. */
function cf(
  config: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<CliResult> {
  return slipway(
    join(dir.path, 'cli-home'),
    ['cf', ...args],
    { SLIPWAY_CF_CONFIG: config, ...options.env },
    options.input,
  );
}

/** Like cf() but the command must succeed. */
async function cfOk(config: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const r = await cf(config, args, options);
  assert.equal(r.code, 0, `slipway cf ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** `slipway cf ARGS --json`, parsed. */
async function cfJson<T = Record<string, unknown>>(config: string, args: string[]): Promise<T> {
  const r = await cfOk(config, [...args, '--json']);
  return JSON.parse(r.stdout) as T;
}

/** A command that must fail with one line naming the problem, and {error} under --json. */
async function cfFails(
  config: string,
  args: string[],
  message: string | RegExp,
  options: { env?: NodeJS.ProcessEnv } = {},
) {
  const r = await cf(config, args, options);
  assert.notEqual(r.code, 0, `slipway cf ${args.join(' ')} should fail:\n${r.stdout}`);
  const line = r.stderr.split('\n').find((l) => l.startsWith('slipway: error: '));
  assert.ok(line, `no error line in:\n${r.stderr}`);
  if (typeof message === 'string') assert.ok(line.includes(message), `${line}\n  should say: ${message}`);
  else assert.match(line, message);
  const json = await cf(config, [...args, '--json'], options);
  assert.notEqual(json.code, 0);
  const body = JSON.parse(json.stdout) as { error: { code: string; message: string } };
  assert.ok(body.error.code && body.error.message, json.stdout);
  return r;
}

async function readConfig(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

/** A copy of a JWT whose payload says it expired a minute ago (the signature no longer matters: it is refreshed first). */
function expired(jwt: string): string {
  const [h, p, sig] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as { exp: number };
  claims.exp = Math.floor(Date.now() / 1000) - 60;
  return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
}

describe('slipway cf against slipway serve', { timeout: 240_000 }, () => {
  before(async () => {
    dir = await tempDir('slipway-cf');
    await writeFile(join(dir.path, 'admin-password'), `${ADMIN_PASSWORD}\n`);
    platform = await startPlatform(join(dir.path, 'home'), ['--admin-password-file', join(dir.path, 'admin-password')]);
    adminConfig = join(dir.path, 'admin', 'config.json');
    aliceConfig = join(dir.path, 'alice', 'config.json');
  });

  after(async () => {
    await platform?.stop();
    await dir?.cleanup();
  });

  it('has --help with an example for every command, and keeps the toolkit commands apart', async () => {
    const group = await slipway(dir.path, ['cf', '--help']);
    assert.equal(group.code, 0);
    const commands = [
      'login',
      'logout',
      'target',
      'passwd',
      'orgs',
      'create-org',
      'delete-org',
      'spaces',
      'create-space',
      'delete-space',
      'create-user',
      'org-users',
      'space-users',
      'set-org-role',
      'set-space-role',
      'unset-org-role',
      'unset-space-role',
      'apps',
      'events',
      'create-api-token',
      'api-tokens',
      'delete-api-token',
    ];
    for (const name of commands) {
      assert.match(group.stdout, new RegExp(`^  ${name}\\b`, 'm'), `slipway cf --help lists ${name}`);
      const help = await slipway(dir.path, ['cf', name, '--help']);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /Usage: slipway cf /);
      assert.match(help.stdout, /Examples?:\n\s+\$ slipway cf /, `${name} --help has an example`);
    }
    const toolkitLogin = await slipway(dir.path, ['login', '--help']);
    assert.match(toolkitLogin.stdout, /Usage: slipway login \[options\] <host>/);
  });

  it("--version is the root's before a command, and rollback's own after it", async () => {
    const version = await slipway(dir.path, ['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    assert.equal((await slipway(dir.path, ['--json', '-V'])).stdout, version.stdout);
    const help = await slipway(dir.path, ['cf', 'rollback', '--help']);
    assert.match(help.stdout, /^ {2}--version <N> +The revision to roll back to$/m);
    // As the cf CLI spells it: rollback takes the revision (and then wants an API), no version is printed.
    const config = join(dir.path, 'nowhere', 'config.json');
    for (const version of [['--version', '2'], ['--version=2']])
      await cfFails(
        config,
        ['rollback', 'web', ...version, '-f'],
        "No API endpoint set. Use 'slipway cf login -a API_URL'",
      );
  });

  it('says how to log in, and refuses a wrong password', async () => {
    await cfFails(
      adminConfig,
      ['orgs'],
      "No API endpoint set. Use 'slipway cf login -a API_URL' to target an endpoint.",
    );
    await cfFails(adminConfig, ['target'], "No API endpoint set. Use 'slipway cf login -a API_URL'");
    const bad = await cfFails(
      adminConfig,
      ['login', '-a', platform.url, '-u', 'admin', '-p', 'not-the-password'],
      /Unable to authenticate as 'admin' at http:\/\/127\.0\.0\.1:\d+: Credentials were rejected, please try again\./,
    );
    assert.match(bad.stderr, /^Credentials were rejected, please try again\.$/m);
    assert.match(bad.stdout, /^FAILED$/m);
    await assert.rejects(stat(adminConfig), /ENOENT/, 'a failed login saves nothing');
    await cfFails(
      adminConfig,
      ['login', '-a', 'http://127.0.0.1:1', '-u', 'admin', '-p', 'x'],
      /Request error: GET http:\/\/127\.0\.0\.1:1\/: .*Is the API at http:\/\/127\.0\.0\.1:1 running/,
    );
  });

  it('logs the admin in and keeps the tokens in a 0600 config file', async () => {
    const r = await cfOk(adminConfig, ['login', '-a', `${platform.url}/`, '-u', 'admin'], {
      env: { SLIPWAY_CF_PASSWORD: ADMIN_PASSWORD },
    });
    assert.match(r.stdout, /^API endpoint: http:\/\/127\.0\.0\.1:\d+\/$/m);
    assert.match(r.stdout, /Authenticating\.\.\.\nOK\n/);
    assert.match(r.stdout, new RegExp(`^API endpoint:   ${platform.url}$`, 'm'));
    assert.match(r.stdout, /^API version: {4}3\.\d+\.\d+$/m);
    assert.match(r.stdout, /^user: {11}admin$/m);
    assert.match(r.stdout, /No org or space targeted, use 'slipway cf target -o ORG -s SPACE'/);
    assert.match(r.stderr, /Insecure http API endpoint/);
    const st = await stat(adminConfig);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal((await stat(join(dir.path, 'admin'))).mode & 0o077, 0, 'its folder is private too');
    const config = await readConfig(adminConfig);
    assert.equal(config.api, platform.url);
    assert.equal(typeof config.accessToken, 'string');
    assert.equal(typeof config.refreshToken, 'string');
    assert.equal(config.loginUrl, `${platform.url}/uaa`);

    const json = await cfJson(adminConfig, ['login', '-a', platform.url, '-u', 'admin', '-p', ADMIN_PASSWORD]);
    assert.deepEqual(
      { api: json.api, user: json.user, org: json.org, space: json.space },
      { api: platform.url, user: 'admin', org: null, space: null },
    );
    assert.equal((await stat(adminConfig)).mode & 0o777, 0o600, 'still 0600 after a rewrite');
  });

  it('creates orgs and spaces (and again: already there is OK)', async () => {
    const org = await cfJson<{ org: { guid: string; name: string }; created: boolean }>(adminConfig, [
      'create-org',
      'acme',
    ]);
    assert.equal(org.created, true);
    assert.equal(org.org.name, 'acme');
    const again = await cfOk(adminConfig, ['create-org', 'acme']);
    assert.equal(again.stdout, "Creating org acme as admin...\nOrganization 'acme' already exists.\nOK\n");
    await cfOk(adminConfig, ['create-org', 'other']);

    await cfFails(
      adminConfig,
      ['create-space', 'dev'],
      "No org targeted, use 'slipway cf target -o ORG' to target an org.",
    );
    const space = await cfOk(adminConfig, ['create-space', 'dev', '-o', 'acme']);
    assert.equal(
      space.stdout,
      [
        'Creating space dev in org acme as admin...',
        'OK',
        'Assigning role SpaceManager to user admin in org acme / space dev as admin...',
        'OK',
        'Assigning role SpaceDeveloper to user admin in org acme / space dev as admin...',
        'OK',
        `TIP: Use 'slipway cf target -o "acme" -s "dev"' to target new space`,
        '',
      ].join('\n'),
    );
    const spaceAgain = await cfOk(adminConfig, ['create-space', 'dev', '-o', 'acme']);
    assert.match(spaceAgain.stdout, /Space 'dev' already exists\.\nOK\n$/);

    await cfFails(adminConfig, ['target', '-o', 'nope'], "Organization 'nope' not found.");
    const target = await cfJson<{ org: { name: string }; space: { name: string } }>(adminConfig, [
      'target',
      '-o',
      'acme',
    ]);
    assert.equal(target.org.name, 'acme');
    assert.equal(target.space.name, 'dev', 'an org with one space gets it targeted');
    await cfFails(adminConfig, ['target', '-s', 'nope'], "Space 'nope' not found.");
    await cfOk(adminConfig, ['target', '-o', 'acme', '-s', 'dev']);
    const orgs = await cfJson<{ orgs: { name: string }[] }>(adminConfig, ['orgs']);
    assert.deepEqual(
      orgs.orgs.map((o) => o.name),
      ['acme', 'other'],
    );
    const spaces = await cfOk(adminConfig, ['spaces']);
    assert.equal(spaces.stdout, 'Getting spaces in org acme as admin...\n\nname\ndev\n');
  });

  it('creates a user and gives them a space role (twice: a warning, OK)', async () => {
    await cfFails(adminConfig, ['create-user', 'alice'], 'the required argument `PASSWORD` was not provided');
    const made = await cfOk(adminConfig, ['create-user', 'alice', '--password-stdin', '--json'], {
      input: `${ALICE_PASSWORD}\n`,
    });
    const created = JSON.parse(made.stdout) as { user: { guid: string; username: string }; created: boolean };
    assert.equal(created.created, true);
    assert.equal(created.user.username, 'alice');
    const again = await cfOk(adminConfig, ['create-user', 'alice', 'whatever']);
    assert.match(again.stderr, /^User 'alice' already exists\.$/m);
    assert.match(again.stdout, /^OK$/m);

    await cfFails(adminConfig, ['set-space-role', 'alice', 'acme', 'dev', 'Developer'], /ROLE must be "SpaceManager"/);
    await cfFails(adminConfig, ['set-space-role', 'nobody', 'acme', 'dev', 'SpaceDeveloper'], /nobody/);
    const role = await cfOk(adminConfig, ['set-space-role', 'alice', 'acme', 'dev', 'SpaceDeveloper']);
    assert.equal(role.stdout, 'Assigning role SpaceDeveloper to user alice in org acme / space dev as admin...\nOK\n');
    const twice = await cfJson<{ created: boolean; role: string }>(adminConfig, [
      'set-space-role',
      'alice',
      'acme',
      'dev',
      'spacedeveloper',
    ]);
    assert.deepEqual({ created: twice.created, role: twice.role }, { created: false, role: 'space_developer' });
    const warned = await cfOk(adminConfig, ['set-space-role', 'alice', 'acme', 'dev', 'SpaceDeveloper']);
    assert.match(warned.stderr, /User 'alice' already has role 'SpaceDeveloper' in org 'acme' \/ space 'dev'\./);
    await cfOk(adminConfig, ['set-org-role', 'alice', 'acme', 'OrgAuditor']);
    const orgTwice = await cfOk(adminConfig, ['set-org-role', 'alice', 'acme', 'OrgAuditor']);
    assert.match(orgTwice.stderr, /User 'alice' already has role 'OrgAuditor' in org 'acme'\./);

    const spaceUsers = await cfOk(adminConfig, ['space-users', 'acme', 'dev']);
    assert.match(
      spaceUsers.stdout,
      /SPACE MANAGER\n {2}admin \(uaa\)\n\nSPACE DEVELOPER\n {2}admin \(uaa\)\n {2}alice \(uaa\)\n/,
    );
    assert.match(spaceUsers.stdout, /SPACE AUDITOR\n {2}No SPACE AUDITOR found/);
    const orgUsers = await cfOk(adminConfig, ['org-users', 'acme']);
    assert.match(orgUsers.stdout, /ORG AUDITOR\n {2}alice \(uaa\)/);
    const all = await cfOk(adminConfig, ['org-users', 'acme', '-a']);
    assert.match(all.stdout, /ORG USERS\n {2}admin \(uaa\)\n {2}alice \(uaa\)/);
    const json = await cfJson<{ roles: { type: string; user: { username: string } }[] }>(adminConfig, [
      'space-users',
      'acme',
      'dev',
    ]);
    assert.ok(json.roles.some((r) => r.type === 'space_developer' && r.user.username === 'alice'));
    await cfOk(adminConfig, ['unset-org-role', 'alice', 'acme', 'OrgAuditor']);
    assert.match((await cfOk(adminConfig, ['org-users', 'acme'])).stdout, /ORG AUDITOR\n {2}No ORG AUDITOR found/);
  });

  it('logs the user in: the one org and space she may see are targeted, and nothing else shows', async () => {
    const login = await cfOk(aliceConfig, ['login', '-a', platform.url, '-u', 'alice', '-p', ALICE_PASSWORD]);
    assert.match(login.stdout, /Targeted org acme\.\n\nTargeted space dev\.\n/);
    assert.match(login.stdout, /^user: {11}alice\norg: {12}acme\nspace: {10}dev$/m);
    const orgs = await cfJson<{ orgs: { name: string }[] }>(aliceConfig, ['orgs']);
    assert.deepEqual(
      orgs.orgs.map((o) => o.name),
      ['acme'],
    );
    assert.equal((await cfOk(aliceConfig, ['orgs'])).stdout, 'Getting orgs as alice...\n\nname\nacme\n');
    assert.equal((await cfOk(aliceConfig, ['spaces'])).stdout, 'Getting spaces in org acme as alice...\n\nname\ndev\n');
    await cfFails(aliceConfig, ['target', '-o', 'other'], "Organization 'other' not found.");
    const cleared = await readConfig(aliceConfig);
    assert.equal(cleared.org, undefined, 'a failed target -o forgets the org');
    await cfFails(aliceConfig, ['apps'], "No org targeted, use 'slipway cf target -o ORG' to target an org.");
    await cfOk(aliceConfig, ['target', '-o', 'acme']);
    const target = await cfOk(aliceConfig, ['target']);
    assert.match(target.stdout, /^org: {12}acme\nspace: {10}dev$/m);
    assert.equal(
      (await cfOk(aliceConfig, ['apps'])).stdout,
      'Getting apps in org acme / space dev as alice...\n\nNo apps found\n',
    );
    await cfFails(aliceConfig, ['create-org', 'mine'], 'You are not authorized to perform the requested action');
    await cfFails(aliceConfig, ['org-users', 'other'], "Organization 'other' not found.");

    // An app made through the API (the push side comes later) shows in apps and events.
    const config = await readConfig(aliceConfig);
    const res = await fetch(`${platform.url}/v3/apps`, {
      method: 'POST',
      headers: { authorization: `bearer ${config.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'web',
        relationships: { space: { data: { guid: (config.space as { guid: string }).guid } } },
      }),
    });
    assert.equal(res.status, 201, await res.text());
    // The app has a web process of 1 instance (as CC makes it), none running: the cf CLI's web:0/1.
    const apps = await cfOk(aliceConfig, ['apps']);
    assert.match(apps.stdout, /^name {3}requested state {3}processes {3}routes\nweb {4}stopped {11}web:0\/1\s*$/m);
    const appsJson = await cfJson<{
      apps: { name: string; state: string; processes: { type: string; running: number; instances: number }[] }[];
    }>(aliceConfig, ['apps']);
    assert.deepEqual(
      appsJson.apps.map((a) => [a.name, a.state, a.processes]),
      [['web', 'STOPPED', [{ type: 'web', running: 0, instances: 1 }]]],
    );
    const events = await cfJson<{ events: { type: string; actor: string }[] }>(aliceConfig, ['events', '--app', 'web']);
    assert.deepEqual(
      events.events.map((e) => [e.type, e.actor]),
      [['audit.app.create', 'alice']],
    );
    const spaceEvents = await cfJson<{ events: { type: string; created_at: string }[] }>(aliceConfig, ['events']);
    assert.equal(spaceEvents.events[0]?.type, 'audit.app.create', 'newest first');
    const times = spaceEvents.events.map((e) => e.created_at);
    assert.deepEqual([...times].sort().reverse(), times);
    assert.match(
      (await cfOk(aliceConfig, ['events'])).stdout,
      /^time {2,}event {2,}actor {2,}target {2,}description$/m,
    );
    await cfFails(aliceConfig, ['events', '--app', 'nope'], "App 'nope' not found");
  });

  it('refreshes an expiring access token with the refresh token, and saves the new one', async () => {
    const before = await readConfig(aliceConfig);
    await writeFile(aliceConfig, JSON.stringify({ ...before, accessToken: expired(before.accessToken as string) }));
    await cfOk(aliceConfig, ['orgs']);
    const after = await readConfig(aliceConfig);
    assert.notEqual(after.accessToken, before.accessToken);
    const claims = JSON.parse(Buffer.from((after.accessToken as string).split('.')[1]!, 'base64url').toString()) as {
      exp: number;
    };
    assert.ok(claims.exp * 1000 > Date.now() + 60_000, 'a fresh token');
    assert.equal((await stat(aliceConfig)).mode & 0o777, 0o600);
  });

  it('follows pagination.next.href to the last page', async () => {
    const config = await readConfig(adminConfig);
    const client = new CfClient(config as never);
    const { resources } = await client.list<{ name: string }>('/v3/organizations', { order_by: 'name', per_page: 1 });
    assert.deepEqual(
      resources.map((o) => o.name),
      ['acme', 'other'],
    );
  });

  it('removes a role: the space is gone from her view', async () => {
    const r = await cfOk(adminConfig, ['unset-space-role', 'alice', 'acme', 'dev', 'SpaceDeveloper']);
    assert.equal(r.stdout, 'Removing role SpaceDeveloper from user alice in org acme / space dev as admin...\nOK\n');
    const again = await cfJson<{ removed: boolean }>(adminConfig, [
      'unset-space-role',
      'alice',
      'acme',
      'dev',
      'SpaceDeveloper',
    ]);
    assert.equal(again.removed, false, 'a role not there is nothing to do');
    await cfFails(
      adminConfig,
      ['unset-space-role', 'nobody', 'acme', 'dev', 'SpaceDeveloper'],
      "User 'nobody' does not exist.",
    );
    assert.equal(
      (await cfOk(aliceConfig, ['spaces'])).stdout,
      'Getting spaces in org acme as alice...\n\nNo spaces found.\n',
    );
    assert.equal(
      (await cfOk(aliceConfig, ['apps'])).stdout,
      'Getting apps in org acme / space dev as alice...\n\nNo apps found\n',
    );
  });

  it('changes a password: log in again with the new one', async () => {
    const r = await cfOk(aliceConfig, ['passwd'], { input: `${ALICE_PASSWORD}\nalice-secret-2\n` });
    assert.match(r.stdout, /Changing password for user alice\.\.\.\nOK\nPlease log in again\.\n/);
    await cfFails(aliceConfig, ['orgs'], "Not logged in. Use 'slipway cf login' to log in.");
    await cfOk(aliceConfig, ['login', '-a', platform.url, '-u', 'alice', '-p', 'alice-secret-2']);
    const wrong = await cf(aliceConfig, ['passwd'], { input: 'not-mine\nx\n' });
    assert.notEqual(wrong.code, 0);
  });

  it('after passwd the old password no longer logs in', async () => {
    const other = join(dir.path, 'alice-old', 'config.json');
    await cfFails(
      other,
      ['login', '-a', platform.url, '-u', 'alice', '-p', ALICE_PASSWORD],
      /Credentials were rejected/,
    );
  });

  it('logs out: the tokens are revoked and forgotten', async () => {
    const before = await readConfig(aliceConfig);
    const r = await cfOk(aliceConfig, ['logout']);
    assert.equal(r.stdout, 'Logging out alice...\nOK\n');
    const after = await readConfig(aliceConfig);
    assert.equal(after.accessToken, undefined);
    assert.equal(after.refreshToken, undefined);
    assert.equal(after.org, undefined);
    assert.equal(after.api, platform.url, 'the API stays targeted');
    await cfFails(aliceConfig, ['orgs'], "Not logged in. Use 'slipway cf login' to log in.");
    // The revoked refresh token cannot mint a new access token.
    await writeFile(aliceConfig, JSON.stringify({ ...before, accessToken: expired(before.accessToken as string) }));
    await cfFails(aliceConfig, ['orgs'], /The token expired, was revoked, or the token ID is incorrect/);
  });

  it('API tokens: made for a space, listed without the secret, deleted', async () => {
    const made = await cfOk(adminConfig, ['create-api-token', 'ci', '--json']);
    const token = JSON.parse(made.stdout) as { guid: string; name: string; token: string };
    assert.equal(token.name, 'ci');
    assert.ok(token.token.length > 16);
    const list = await cfOk(adminConfig, ['api-tokens', '--json']);
    assert.ok(!list.stdout.includes(token.token), 'the secret is shown once');
    assert.ok((JSON.parse(list.stdout) as { tokens: { name: string }[] }).tokens.some((t) => t.name === 'ci'));
    await cfOk(adminConfig, ['delete-api-token', 'ci', '-f']);
    const gone = await cfOk(adminConfig, ['delete-api-token', 'ci', '-f']);
    assert.match(gone.stderr, /API token 'ci' does not exist\./);
  });

  it('deletes a space and an org as jobs, and forgets them as targets', async () => {
    const kept = await cfOk(adminConfig, ['delete-space', 'dev', '-o', 'acme']);
    assert.match(kept.stdout, /'dev' has not been deleted\./, 'no -f and no yes: nothing deleted');
    const r = await cfOk(adminConfig, ['delete-space', 'dev', '-f']);
    assert.equal(
      r.stdout,
      "Deleting space dev in org acme as admin...\nOK\nTIP: No space targeted, use 'slipway cf target -s' to target a space.\n",
    );
    assert.equal((await readConfig(adminConfig)).space, undefined);
    assert.equal(
      (await cfOk(adminConfig, ['spaces'])).stdout,
      'Getting spaces in org acme as admin...\n\nNo spaces found.\n',
    );
    const again = await cfJson<{ deleted: boolean }>(adminConfig, ['delete-space', 'dev', '-o', 'acme', '-f']);
    assert.equal(again.deleted, false);
    const warned = await cfOk(adminConfig, ['delete-space', 'dev', '-o', 'acme', '-f']);
    assert.match(warned.stderr, /^Space 'dev' does not exist\.$/m);

    const org = await cfOk(adminConfig, ['delete-org', 'acme', '-f'], {});
    assert.match(org.stdout, /^Deleting org acme as admin\.\.\.\nOK\nTIP: No org or space targeted/);
    assert.equal((await readConfig(adminConfig)).org, undefined);
    const orgs = await cfJson<{ orgs: { name: string }[] }>(adminConfig, ['orgs']);
    assert.deepEqual(
      orgs.orgs.map((o) => o.name),
      ['other'],
    );
    const gone = await cfOk(adminConfig, ['delete-org', 'acme', '-f']);
    assert.match(gone.stderr, /^Org 'acme' does not exist\.$/m);
    await cfFails(adminConfig, ['delete-space', 'x', '-o', 'acme', '-f'], "Organization 'acme' not found.");
  });

  it('logs in over HTTPS: an untrusted certificate needs --skip-ssl-validation', {
    skip: !commandExists('openssl'),
  }, async () => {
    const cert = join(dir.path, 'cert.pem');
    const key = join(dir.path, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const tls = await startPlatform(join(dir.path, 'home-tls'), [
      '--tls-cert',
      cert,
      '--tls-key',
      key,
      '--admin-password-file',
      join(dir.path, 'admin-password'),
    ]);
    try {
      const config = join(dir.path, 'tls', 'config.json');
      const api = tls.url.replace(/^https:\/\//, '');
      await cfFails(
        config,
        ['login', '-a', api, '-u', 'admin', '-p', ADMIN_PASSWORD],
        /Invalid SSL Cert for https:\/\/127\.0\.0\.1:\d+.*--skip-ssl-validation/,
      );
      const r = await cfOk(config, ['login', '-a', api, '-u', 'admin', '-p', ADMIN_PASSWORD, '--skip-ssl-validation']);
      assert.match(r.stdout, new RegExp(`API endpoint:   ${tls.url}`));
      assert.equal((await readConfig(config)).skipSslValidation, true);
      await cfOk(config, ['orgs'], {});
    } finally {
      await tls.stop();
    }
  });
});
