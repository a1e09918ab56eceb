import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultTokenKeyPath, loadOrCreateTokenKey } from '../src/auth/token-key.js';
import { stackGuid } from '../src/platform/actions/stacks.js';
import { PlatformTokens } from '../src/platform/identity/tokens.js';
import { TokenService } from '../src/server/auth/token-service.js';
import { BUILTIN_BUILDPACKS } from '../src/stage/cnb/paths.js';
import { commandExists, tempDir } from './helpers.js';
import {
  ARTIFACT_TYPE,
  type MatrixWorld,
  MatrixWorld as World,
  PRINCIPALS,
  type Principal,
} from './platform-matrix-world.js';
import {
  type Answer,
  jwtClaims,
  makeImage,
  ociCode,
  OCI_MANIFEST,
  PLATFORM_ISSUER,
  REGISTRY_SERVICE,
  type SkopeoResult,
  skopeo,
  skopeoCreds,
  writeLayout,
} from './platform-world.js';

/** The platform's own admin buildpacks (`<id>_buildpack` for each of Slipway's buildpacks), made by every start. */
const SLIPWAY_BUILDPACKS = readdirSync(BUILTIN_BUILDPACKS, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => `${e.name}_buildpack`);

/**
 * THE permission matrix of the platform, over real HTTP against `slipway serve` (in
 * this process, on a real socket): every principal against every API action of issue
 * 17 (list/get/create/update/delete of orgs, spaces, roles, users, apps, env vars,
 * stacks, buildpacks, audit events, jobs, API tokens, the root documents and UAA's
 * users) and every registry action (pull, push, delete, tags/list, catalog,
 * referrers, mount-from and automatic mounts), the registry side through skopeo where a
 * client exists and plain HTTP with a Docker token for the rest.
 *
 * The table is written once from Cloud Foundry's rules (cf-roles.md §3.2 and §3.3,
 * Cloud Controller's lib/cloud_controller/permissions.rb and its request specs):
 * each cell is the status CF answers. Where Slipway deliberately answers otherwise the
 * cell is listed in DIVERGENCES with Slipway's answer and why; those are asserted as
 * they are (so a change is seen) and reported. A leak is an answer that gives more than
 * CF's cell: a 2xx where CF refuses, a 403 (it exists) where CF says 404, or a list
 * entry CF would not show. The test fails on any cell that differs from the table.
 *
 * Denials are checked to the body: API 401 CF-NotAuthenticated (no token) or
 * CF-InvalidAuthToken (a token the API does not take: a staging token), 403
 * CF-NotAuthorized, 404 CF-ResourceNotFound, 422 CF-UnprocessableEntity; registry 401
 * UNAUTHORIZED with a Bearer challenge, 403 DENIED, 404 NAME_UNKNOWN.
 */

type Row = readonly number[];
type Setup = Record<string, string>;

interface Outcome {
  status: number;
  /** What is wrong with the answer besides its status (a denial's body, a list's content). */
  problems: string[];
  /** Entries a list showed that the table does not allow (leaks). */
  extra?: string[];
}

interface Cell {
  setup?: (w: MatrixWorld) => Promise<Setup>;
  run: (w: MatrixWorld, who: Principal, s: Setup) => Promise<Outcome>;
}

/** A row of the table, one status per principal in PRINCIPALS' order (checked when the table is read). */
const r = (...statuses: number[]): Row => statuses;

// What each principal reads, from CF's rules: global readers everything; org roles their org
// (ROLES_FOR_ORG_READING) but no space in it, except org managers; space roles their space
// (ROLES_FOR_SPACE_READING); an API token its user's view, within its own space and org.
const READS: Record<Principal, { orgs: string[]; spaces: string[] }> = {
  admin: { orgs: ['acme', 'globex'], spaces: ['dev', 'qa', 'prod'] },
  adminReadOnly: { orgs: ['acme', 'globex'], spaces: ['dev', 'qa', 'prod'] },
  globalAuditor: { orgs: ['acme', 'globex'], spaces: ['dev', 'qa', 'prod'] },
  orgManager: { orgs: ['acme'], spaces: ['dev', 'qa'] },
  orgAuditor: { orgs: ['acme'], spaces: [] },
  orgBillingManager: { orgs: ['acme'], spaces: [] },
  orgUser: { orgs: ['acme'], spaces: [] },
  spaceDeveloper: { orgs: ['acme'], spaces: ['dev', 'qa'] },
  spaceManager: { orgs: ['acme'], spaces: ['dev'] },
  spaceAuditor: { orgs: ['acme'], spaces: ['dev'] },
  spaceSupporter: { orgs: ['acme'], spaces: ['dev'] },
  otherOrgDeveloper: { orgs: ['globex'], spaces: ['prod'] },
  apiToken: { orgs: ['acme'], spaces: ['dev'] },
  staging: { orgs: [], spaces: [] },
  anonymous: { orgs: [], spaces: [] },
};
const GLOBAL_READERS: readonly Principal[] = ['admin', 'adminReadOnly', 'globalAuditor'];

// Audit events, as Cloud Controller's readable_event_dataset: a space's events to its
// auditors, developers and supporters (SPACE_ROLES_FOR_EVENTS), every event of an org
// (its own and its spaces') to its org auditors; managers see none.
const EVENT_READS: Record<Principal, { spaces: string[]; orgs: string[] }> = {
  admin: { spaces: [], orgs: [] },
  adminReadOnly: { spaces: [], orgs: [] },
  globalAuditor: { spaces: [], orgs: [] },
  orgManager: { spaces: [], orgs: [] },
  orgAuditor: { spaces: [], orgs: ['acme'] },
  orgBillingManager: { spaces: [], orgs: [] },
  orgUser: { spaces: [], orgs: [] },
  spaceDeveloper: { spaces: ['dev', 'qa'], orgs: [] },
  spaceManager: { spaces: [], orgs: [] },
  spaceAuditor: { spaces: ['dev'], orgs: [] },
  spaceSupporter: { spaces: ['dev'], orgs: [] },
  otherOrgDeveloper: { spaces: ['prod'], orgs: [] },
  apiToken: { spaces: ['dev'], orgs: [] },
  staging: { spaces: [], orgs: [] },
  anonymous: { spaces: [], orgs: [] },
};

/** The registry repositories each principal's catalog lists (cf-roles.md §3.3: list = tags/list). */
const STACKS = ['stacks/tiny/build', 'stacks/tiny/run'];
const ALL_REPOS = ['acme/dev/web', 'acme/dev/worker', 'acme/qa/checker', 'globex/prod/api', ...STACKS];
const CATALOG: Record<Principal, string[]> = {
  admin: ALL_REPOS,
  adminReadOnly: ALL_REPOS,
  globalAuditor: ALL_REPOS,
  orgManager: ['acme/dev/web', 'acme/dev/worker', 'acme/qa/checker', ...STACKS],
  orgAuditor: STACKS,
  orgBillingManager: STACKS,
  orgUser: STACKS,
  spaceDeveloper: ['acme/dev/web', 'acme/dev/worker', 'acme/qa/checker', ...STACKS],
  spaceManager: ['acme/dev/web', 'acme/dev/worker', ...STACKS],
  spaceAuditor: ['acme/dev/web', 'acme/dev/worker', ...STACKS],
  spaceSupporter: ['acme/dev/web', 'acme/dev/worker', ...STACKS],
  otherOrgDeveloper: ['globex/prod/api', ...STACKS],
  apiToken: ['acme/dev/web', 'acme/dev/worker', ...STACKS],
  staging: ['acme/dev/web', ...STACKS],
  anonymous: [],
};

/**
 * Where Slipway answers other than CF, on purpose: Slipway's answer per principal, and
 * why. Each is stricter than CF (no leak).
 */
const DIVERGENCES: Record<string, { slipway: Partial<Record<Principal, number | 'content'>>; why: string }> = {
  'apps: get environment_variables': {
    slipway: { spaceSupporter: 403 },
    why: 'CF lets supporters read env vars (ROLES_FOR_APP_ENVIRONMENT_VARIABLES_READING); the policy asks one secret question (developers)',
  },
  'apps: get env': {
    slipway: { spaceSupporter: 403 },
    why: 'as environment_variables (CF shows supporters /env with the system part redacted)',
  },
  'audit_events: get space event': {
    slipway: { orgAuditor: 404 },
    why: "CF shows org auditors every event of their org, its spaces' too; Slipway only the org's own",
  },
  'lists: audit_events': {
    slipway: { orgAuditor: 'content' },
    why: "as above: org auditors list the org's own events, not its spaces'",
  },
};

// ---------------------------------------------------------------------------
// How a cell is run

const API_DENIALS: Record<number, string> = {
  403: 'CF-NotAuthorized',
  404: 'CF-ResourceNotFound',
  422: 'CF-UnprocessableEntity',
};

/** The problems of a v3 API answer: a denial must carry CF's error. */
function apiProblems(who: Principal, res: Answer): string[] {
  const title = res.body?.errors?.[0]?.title;
  if (res.status === 401) {
    const want = who === 'anonymous' ? 'CF-NotAuthenticated' : 'CF-InvalidAuthToken';
    return title === want ? [] : [`401 without ${want}: ${res.text}`];
  }
  const want = API_DENIALS[res.status];
  return want && title !== want ? [`${res.status} without ${want}: ${res.text}`] : [];
}

function api(
  method: string,
  path: (w: MatrixWorld, s: Setup) => string,
  options: { body?: (w: MatrixWorld, s: Setup) => unknown; setup?: (w: MatrixWorld) => Promise<Setup> } = {},
): Cell {
  return {
    ...(options.setup ? { setup: options.setup } : {}),
    async run(w, who, s) {
      const res = await w.c.call(method, path(w, s), w.creds[who].api, options.body?.(w, s));
      const problems = apiProblems(who, res);
      if (res.status === 202 && !/^http:\/\/127\.0\.0\.1:\d+\/v3\/jobs\//.test(res.headers.get('location') ?? ''))
        problems.push(`202 without a job Location: ${res.headers.get('location')}`);
      return { status: res.status, problems };
    },
  };
}

/** A UAA endpoint: UAA's errors ({error}), not CF's. */
function uaa(method: string, path: string, body?: (w: MatrixWorld) => unknown): Cell {
  return {
    async run(w, who) {
      const res = await w.c.call(method, path, w.creds[who].api, body?.(w));
      const want = res.status === 401 ? 'invalid_token' : res.status === 403 ? 'insufficient_scope' : undefined;
      return { status: res.status, problems: want && res.body?.error !== want ? [`${res.status}: ${res.text}`] : [] };
    },
  };
}

/** A list: the status, and every entry (all pages) compared with what the principal may see. */
function list(
  path: string,
  key: (resource: Record<string, unknown>) => string,
  sees: (w: MatrixWorld, who: Principal) => string[],
): Cell {
  return {
    async run(w, who) {
      const res = await w.c.call('GET', `${path}${path.includes('?') ? '&' : '?'}per_page=5000`, w.creds[who].api);
      const problems = apiProblems(who, res);
      if (res.status !== 200) return { status: res.status, problems };
      const got = (res.body.resources as Record<string, unknown>[]).map(key).sort();
      const want = sees(w, who).sort();
      if (res.body.pagination.total_results !== got.length)
        problems.push(`total_results ${res.body.pagination.total_results} for ${got.length}`);
      const extra = got.filter((g) => !want.includes(g));
      const missing = want.filter((x) => !got.includes(x));
      if (extra.length > 0 || missing.length > 0)
        problems.push(`lists ${JSON.stringify(got)}, wants ${JSON.stringify(want)}`);
      return { status: res.status, problems, extra };
    },
  };
}

/** Scopes and a request of the registry, with a Docker token the principal gets from /token. */
function registry(
  scopes: (w: MatrixWorld, s: Setup) => string[],
  request: (
    w: MatrixWorld,
    s: Setup,
    who: Principal,
  ) => { method: string; path: string; body?: Buffer; headers?: Record<string, string> },
  options: {
    setup?: (w: MatrixWorld) => Promise<Setup>;
    check?: (w: MatrixWorld, s: Setup, who: Principal, res: Answer) => Promise<string[]>;
  } = {},
): Cell {
  return {
    ...(options.setup ? { setup: options.setup } : {}),
    async run(w, who, s) {
      const tokenAnswer = await w.c.registryTokenAnswer(w.creds[who].registry, scopes(w, s));
      if (tokenAnswer.status !== 200) return { status: -tokenAnswer.status, problems: [`/token: ${tokenAnswer.text}`] };
      const q = request(w, s, who);
      const res = await w.c.call(q.method, q.path, `Bearer ${tokenAnswer.body.token}`, q.body, q.headers);
      const problems: string[] = [];
      const want = { 401: 'UNAUTHORIZED', 403: 'DENIED', 404: 'NAME_UNKNOWN' }[res.status as 401 | 403 | 404];
      if (want && q.method !== 'HEAD' && ociCode(res) !== want)
        problems.push(`${res.status} without ${want}: ${res.text}`);
      if (
        res.status === 401 &&
        !/^Bearer realm="[^"]+\/token",service="slipway",scope="/.test(res.headers.get('www-authenticate') ?? '')
      )
        problems.push(`401 without a Bearer challenge: ${res.headers.get('www-authenticate')}`);
      if (options.check) problems.push(...(await options.check(w, s, who, res)));
      return { status: res.status, problems };
    },
  };
}

/** skopeo's outcome as the status class it reports: 200 when it worked, else the registry's refusal. */
function skopeoStatus(result: SkopeoResult): number {
  if (result.ok) return 200;
  const e = result.stderr;
  if (/unauthorized|\(401 Unauthorized\)|HTTP 401/i.test(e)) return 401;
  if (/denied: not allowed|"code":"DENIED"|403 \(Forbidden\)|\(403 Forbidden\)/.test(e)) return 403;
  if (/name unknown|"code":"NAME_UNKNOWN"|404 \(Not Found\)|Image may not exist/i.test(e)) return 404;
  return 0;
}

function skopeoCell(
  args: (w: MatrixWorld, s: Setup, who: Principal) => Promise<string[]>,
  options: {
    setup?: (w: MatrixWorld) => Promise<Setup>;
    check?: (w: MatrixWorld, who: Principal, result: SkopeoResult) => Promise<string[]>;
  } = {},
): Cell {
  return {
    ...(options.setup ? { setup: options.setup } : {}),
    async run(w, who, s) {
      const result = await skopeo(await args(w, s, who));
      const status = skopeoStatus(result);
      const problems = status === 0 ? [`skopeo failed otherwise: ${result.stderr}`] : [];
      if (result.ok && options.check) problems.push(...(await options.check(w, who, result)));
      return { status, problems };
    },
  };
}

const g = (w: MatrixWorld, name: string) => w.guid[name] as string;
const names = (r: Record<string, unknown>) => String(r['name']);
const guids = (r: Record<string, unknown>) => String(r['guid']);
const tlsOff = '--tls-verify=false';
let work = '';

// ---------------------------------------------------------------------------
// THE table: CF's answer to each principal for each action. Principals in this order:
//   adm  = admin                 aRO  = admin_read_only       gAud = global_auditor
//   oMgr = organization_manager  oAud = organization_auditor  oBil = organization_billing_manager
//   oUsr = organization_user     sDev = space_developer       sMgr = space_manager
//   sAud = space_auditor         sSup = space_supporter       othr = another org's developer
//   tokn = sDev's API token (dev) stag = web's staging token  anon = anonymous
// (org roles in acme; space roles in acme/dev; sDev also develops in acme/qa)

// biome-ignore format: one row per action, one column per principal
const EXPECT: Record<string, Row> = {
  //                                                      adm  aRO  gAud oMgr oAud oBil oUsr sDev sMgr sAud sSup othr tokn stag anon
  'lists: organizations':                              r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401),
  'lists: spaces':                                     r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401),
  'lists: apps':                                       r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401),
  'lists: roles':                                      r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401),
  'lists: users':                                      r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401),
  'lists: audit_events':                               r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401),
  'lists: stacks':                                     r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401),
  'lists: buildpacks':                                 r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401),
  'lists: api_tokens':                                 r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 403, 401, 401),

  'organizations: get acme':                           r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 404, 200, 401, 401),
  'organizations: get globex':                         r(200, 200, 200, 404, 404, 404, 404, 404, 404, 404, 404, 200, 404, 401, 401),
  'organizations: create':                             r(201, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 401),
  'organizations: update':                             r(200, 403, 403, 200, 403, 403, 403, 403, 403, 403, 403, 404, 403, 401, 401),
  'organizations: suspend (a fresh org)':              r(200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 404, 401, 401),
  'organizations: delete (a fresh org)':               r(202, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 404, 401, 401),

  'spaces: get dev':                                   r(200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 200, 404, 200, 401, 401),
  'spaces: get qa':                                    r(200, 200, 200, 200, 404, 404, 404, 200, 404, 404, 404, 404, 404, 401, 401),
  'spaces: create in acme':                            r(201, 403, 403, 201, 403, 403, 403, 403, 403, 403, 403, 422, 403, 401, 401),
  'spaces: update dev':                                r(200, 403, 403, 200, 404, 404, 404, 403, 200, 403, 403, 404, 403, 401, 401),
  'spaces: delete (a fresh space)':                    r(202, 403, 403, 202, 404, 404, 404, 403, 403, 403, 403, 404, 404, 401, 401),

  'apps: get web':                                     r(200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 200, 404, 200, 401, 401),
  'apps: get checker (qa)':                            r(200, 200, 200, 200, 404, 404, 404, 200, 404, 404, 404, 404, 404, 401, 401),
  'apps: create in dev':                               r(201, 403, 403, 403, 422, 422, 422, 201, 403, 403, 403, 422, 201, 401, 401),
  'apps: create in qa':                                r(201, 403, 403, 403, 422, 422, 422, 201, 422, 422, 422, 422, 422, 401, 401),
  'apps: update web':                                  r(200, 403, 403, 403, 404, 404, 404, 200, 403, 403, 403, 404, 200, 401, 401),
  'apps: delete (a fresh app)':                        r(202, 403, 403, 403, 404, 404, 404, 202, 403, 403, 403, 404, 202, 401, 401),
  'apps: get environment_variables':                   r(200, 200, 403, 403, 404, 404, 404, 200, 403, 403, 200, 404, 200, 401, 401),
  'apps: get env':                                     r(200, 200, 403, 403, 404, 404, 404, 200, 403, 403, 200, 404, 200, 401, 401),
  'apps: update environment_variables':                r(200, 403, 403, 403, 404, 404, 404, 200, 403, 403, 200, 404, 200, 401, 401),

  'roles: get space role':                             r(200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 200, 404, 200, 401, 401),
  'roles: get org role':                               r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 404, 200, 401, 401),
  'roles: create org role':                            r(201, 403, 403, 201, 403, 403, 403, 403, 403, 403, 403, 422, 403, 401, 401),
  'roles: create space role':                          r(201, 403, 403, 201, 422, 422, 422, 403, 201, 403, 403, 422, 403, 401, 401),
  'roles: delete space role':                          r(202, 403, 403, 202, 404, 404, 404, 403, 202, 403, 403, 404, 403, 401, 401),
  'roles: delete org role':                            r(202, 403, 403, 202, 403, 403, 403, 403, 403, 403, 403, 404, 403, 401, 401),

  'users: get a member of acme':                       r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 404, 200, 401, 401),
  'users: get a member of globex':                     r(200, 200, 200, 404, 404, 404, 404, 404, 404, 404, 404, 200, 404, 401, 401),
  'users: create':                                     r(201, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 401),
  'users: delete (a fresh member)':                    r(202, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 403, 401, 401),

  'stacks and buildpacks: get stack':                  r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401),
  'stacks and buildpacks: get buildpack':              r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401),
  'stacks and buildpacks: create buildpack':           r(201, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 401),
  'stacks and buildpacks: update buildpack':           r(200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 401),
  'stacks and buildpacks: delete buildpack (fresh)':   r(202, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 401),

  'audit_events: get space event':                     r(200, 200, 200, 404, 200, 404, 404, 200, 404, 200, 200, 404, 200, 401, 401),
  'audit_events: get org event':                       r(200, 200, 200, 404, 200, 404, 404, 404, 404, 404, 404, 404, 404, 401, 401),
  'audit_events: get job':                             r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401),

  'api_tokens: create for dev':                        r(201, 201, 201, 201, 422, 422, 422, 201, 201, 201, 201, 422, 403, 401, 401),
  "api_tokens: revoke the space developer's":          r(204, 404, 404, 404, 404, 404, 404, 204, 404, 404, 404, 404, 404, 401, 401),

  'root and UAA: GET /':                               r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
  'root and UAA: GET /v3/info':                        r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
  'root and UAA: GET /uaa/Users':                      r(200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 401, 401),
  'root and UAA: POST /uaa/Users':                     r(201, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 401, 401),
  'root and UAA: GET /uaa/userinfo':                   r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401, 401),

  'registry: catalog':                                 r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401),
  'registry: pull manifest acme/dev/web':              r(200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 403, 404, 200, 200, 401),
  'registry: pull blob acme/dev/web':                  r(200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 403, 404, 200, 200, 401),
  'registry: referrers acme/dev/web':                  r(200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 403, 404, 200, 200, 401),
  'registry: tags/list acme/dev/web':                  r(200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 200, 404, 200, 200, 401),
  'registry: push acme/dev/web':                       r(201, 403, 403, 403, 404, 404, 404, 201, 403, 403, 403, 404, 201, 201, 401),
  'registry: delete acme/dev/web (fresh manifest)':    r(202, 403, 403, 403, 404, 404, 404, 202, 403, 403, 403, 404, 202, 403, 401),
  'registry: pull acme/qa/checker':                    r(200, 200, 200, 200, 404, 404, 404, 200, 404, 404, 404, 404, 404, 404, 401),
  'registry: pull globex/prod/api':                    r(200, 200, 200, 404, 404, 404, 404, 404, 404, 404, 404, 200, 404, 404, 401),
  'registry: push globex/prod/api':                    r(201, 403, 403, 404, 404, 404, 404, 404, 404, 404, 404, 201, 404, 404, 401),
  'registry: pull by stored name apps/GUID':           r(200, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 401),
  'registry: pull stacks/tiny/run':                    r(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401),
  'registry: push stacks/tiny/run':                    r(201, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401),
  'registry: mount worker blob into acme/dev/web':     r(201, 403, 403, 403, 404, 404, 404, 201, 403, 403, 403, 404, 201, 202, 401),
  'registry: mount web blob into globex/prod/api':     r(201, 403, 403, 404, 404, 404, 404, 404, 404, 404, 404, 202, 404, 404, 401),
  'registry: automount web blob into globex/prod/api': r(201, 403, 403, 404, 404, 404, 404, 404, 404, 404, 404, 202, 404, 404, 401),

  'skopeo: copy (pull) acme/dev/web':                  r(200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 403, 404, 200, 200, 401),
  'skopeo: list-tags acme/dev/web':                    r(200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 200, 404, 200, 200, 401),
  'skopeo: copy (push) to acme/dev/web':               r(200, 403, 403, 403, 404, 404, 404, 200, 403, 403, 403, 404, 200, 200, 401),
  'skopeo: delete acme/dev/web (fresh manifest)':      r(200, 403, 403, 403, 404, 404, 404, 200, 403, 403, 403, 404, 200, 403, 401),
  'skopeo: inspect globex/prod/api':                   r(200, 200, 200, 404, 404, 404, 404, 404, 404, 404, 404, 200, 404, 404, 401),
};

// How each action is run, as each principal (the expected answers are EXPECT's).
const TABLE: Record<string, Record<string, Cell>> = {
  // Lists first, before any cell changes the world: each entry is checked, not just the status.
  lists: {
    organizations: list('/v3/organizations', names, (_w, who) => READS[who].orgs),
    spaces: list('/v3/spaces', names, (_w, who) => READS[who].spaces),
    apps: list('/v3/apps', names, (_w, who) =>
      READS[who].spaces.flatMap((s) => ({ dev: ['web', 'worker'], qa: ['checker'], prod: ['api'] })[s] ?? []),
    ),
    roles: list('/v3/roles', guids, (w, who) =>
      w.roles
        .filter((role) =>
          GLOBAL_READERS.includes(who)
            ? true
            : role.space
              ? READS[who].spaces.some((s) => g(w, s) === role.space)
              : READS[who].orgs.some((o) => g(w, o) === role.org),
        )
        .map((role) => role.guid),
    ),
    users: list(
      '/v3/users',
      (u) => String(u['username']),
      (w, who) => {
        const all = Object.values(w.users);
        if (GLOBAL_READERS.includes(who)) return all.map((u) => u.username);
        const orgs = READS[who].orgs.map((o) => g(w, o));
        const self =
          who === 'apiToken' ? w.users.spaceDeveloper.guid : (w.users as Record<string, { guid: string }>)[who]?.guid;
        const members = new Set(w.roles.filter((role) => orgs.includes(role.org)).map((role) => role.user));
        return all.filter((u) => u.guid === self || members.has(u.guid)).map((u) => u.username);
      },
    ),
    audit_events: list('/v3/audit_events', guids, (w, who) => eventsSeen(w, who)),
    stacks: list('/v3/stacks', names, () => ['tiny']),
    // Every principal who may read sees the admin buildpacks: Slipway's own, made on start, and the one made here.
    buildpacks: list('/v3/buildpacks', names, () => [...SLIPWAY_BUILDPACKS, 'ruby_buildpack']),
    api_tokens: {
      async run(w, who) {
        const res = await w.c.call('GET', '/v3/api_tokens', w.creds[who].api);
        const problems = apiProblems(who, res);
        if (res.status !== 200) return { status: res.status, problems };
        const got = (res.body.resources as { guid: string }[]).map((t) => t.guid);
        const want = who === 'spaceDeveloper' ? [w.apiTokenGuid] : [];
        if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`lists tokens ${got}, wants ${want}`);
        return { status: 200, problems, extra: got.filter((x) => !want.includes(x)) };
      },
    },
  },
  organizations: {
    'get acme': api('GET', (w) => `/v3/organizations/${g(w, 'acme')}`),
    'get globex': api('GET', (w) => `/v3/organizations/${g(w, 'globex')}`),
    create: api('POST', () => '/v3/organizations', {
      body: (w) => ({ name: `new-org-${w.next()}` }),
    }),
    update: api('PATCH', (w) => `/v3/organizations/${g(w, 'acme')}`, {
      body: (w) => ({ metadata: { labels: { touched: String(w.next()) } } }),
    }),
    'suspend (a fresh org)': api('PATCH', (_w, s) => `/v3/organizations/${s['org']}`, {
      setup: (w) => w.freshOrg(),
      body: () => ({ suspended: true }),
    }),
    'delete (a fresh org)': api('DELETE', (_w, s) => `/v3/organizations/${s['org']}`, {
      setup: (w) => w.freshOrg(),
    }),
  },
  spaces: {
    'get dev': api('GET', (w) => `/v3/spaces/${g(w, 'dev')}`),
    'get qa': api('GET', (w) => `/v3/spaces/${g(w, 'qa')}`),
    'create in acme': api('POST', () => '/v3/spaces', {
      body: (w) => ({ name: `space-${w.next()}`, relationships: { organization: { data: { guid: g(w, 'acme') } } } }),
    }),
    'update dev': api('PATCH', (w) => `/v3/spaces/${g(w, 'dev')}`, {
      body: (w) => ({ metadata: { labels: { touched: String(w.next()) } } }),
    }),
    'delete (a fresh space)': api('DELETE', (_w, s) => `/v3/spaces/${s['space']}`, {
      setup: async (w) => ({ space: await w.freshSpace() }),
    }),
  },
  apps: {
    'get web': api('GET', (w) => `/v3/apps/${g(w, 'web')}`),
    'get checker (qa)': api('GET', (w) => `/v3/apps/${g(w, 'checker')}`),
    'create in dev': api('POST', () => '/v3/apps', {
      body: (w) => ({ name: `app-${w.next()}`, relationships: { space: { data: { guid: g(w, 'dev') } } } }),
    }),
    'create in qa': api('POST', () => '/v3/apps', {
      body: (w) => ({ name: `app-${w.next()}`, relationships: { space: { data: { guid: g(w, 'qa') } } } }),
    }),
    'update web': api('PATCH', (w) => `/v3/apps/${g(w, 'web')}`, {
      body: (w) => ({ metadata: { labels: { touched: String(w.next()) } } }),
    }),
    'delete (a fresh app)': api('DELETE', (_w, s) => `/v3/apps/${s['app']}`, {
      setup: async (w) => ({ app: await w.freshApp() }),
    }),
    'get environment_variables': api('GET', (w) => `/v3/apps/${g(w, 'web')}/environment_variables`),
    'get env': api('GET', (w) => `/v3/apps/${g(w, 'web')}/env`),
    'update environment_variables': api('PATCH', (w) => `/v3/apps/${g(w, 'web')}/environment_variables`, {
      body: (w) => ({ var: { [`V${w.next()}`]: 'x' } }),
    }),
  },
  roles: {
    'get space role': api('GET', (w) => `/v3/roles/${roleOf(w, 'space_auditor')}`),
    'get org role': api('GET', (w) => `/v3/roles/${roleOf(w, 'organization_auditor')}`),
    'create org role': api('POST', () => '/v3/roles', {
      setup: async (w) => ({ user: (await w.freshMember()).user }),
      body: (w, s) => ({
        type: 'organization_auditor',
        relationships: { user: { data: { guid: s['user'] } }, organization: { data: { guid: g(w, 'acme') } } },
      }),
    }),
    'create space role': api('POST', () => '/v3/roles', {
      setup: async (w) => ({ user: (await w.freshMember('organization_user')).user }),
      body: (w, s) => ({
        type: 'space_auditor',
        relationships: { user: { data: { guid: s['user'] } }, space: { data: { guid: g(w, 'dev') } } },
      }),
    }),
    'delete space role': api('DELETE', (_w, s) => `/v3/roles/${s['role']}`, {
      setup: async (w) => ({ role: (await w.freshMember('organization_user', 'space_auditor')).role }),
    }),
    'delete org role': api('DELETE', (_w, s) => `/v3/roles/${s['role']}`, {
      setup: async (w) => ({ role: (await w.freshMember('organization_billing_manager')).role }),
    }),
  },
  users: {
    'get a member of acme': api('GET', (w) => `/v3/users/${w.users.spaceDeveloper.guid}`),
    'get a member of globex': api('GET', (w) => `/v3/users/${w.users.otherOrgDeveloper.guid}`),
    create: api('POST', () => '/v3/users', {
      body: (w) => ({ username: `ldap-user-${w.next()}`, origin: 'ldap' }),
    }),
    'delete (a fresh member)': api('DELETE', (_w, s) => `/v3/users/${s['user']}`, {
      setup: async (w) => ({ user: (await w.freshMember('organization_user')).user }),
    }),
  },
  'stacks and buildpacks': {
    'get stack': api('GET', () => `/v3/stacks/${stackGuid('tiny')}`),
    'get buildpack': api('GET', (_w, s) => `/v3/buildpacks/${s['bp']}`, {
      setup: async (w) => ({ bp: await rubyBuildpack(w) }),
    }),
    'create buildpack': api('POST', () => '/v3/buildpacks', {
      body: (w) => ({ name: `bp_${w.next()}`, position: 100 }),
    }),
    'update buildpack': api('PATCH', (_w, s) => `/v3/buildpacks/${s['bp']}`, {
      setup: async (w) => ({ bp: await rubyBuildpack(w) }),
      body: () => ({ locked: false }),
    }),
    'delete buildpack (fresh)': api('DELETE', (_w, s) => `/v3/buildpacks/${s['bp']}`, {
      setup: async (w) => ({ bp: await w.freshBuildpack() }),
    }),
  },
  audit_events: {
    'get space event': api('GET', (_w, s) => `/v3/audit_events/${s['event']}`, {
      setup: async (w) => ({ event: await eventOf(w, 'audit.app.create', g(w, 'web')) }),
    }),
    'get org event': api('GET', (_w, s) => `/v3/audit_events/${s['event']}`, {
      setup: async (w) => ({ event: await eventOf(w, 'audit.organization.create', g(w, 'acme')) }),
    }),
    'get job': api('GET', (_w, s) => `/v3/jobs/${s['job']}`, {
      setup: async (w) => {
        const res = await w.c.call('DELETE', `/v3/apps/${await w.freshApp()}`, w.admin);
        return { job: String(res.headers.get('location')).split('/').pop() as string };
      },
    }),
  },
  api_tokens: {
    'create for dev': api('POST', () => '/v3/api_tokens', {
      body: (w) => ({ name: `token-${w.next()}`, relationships: { space: { data: { guid: g(w, 'dev') } } } }),
    }),
    "revoke the space developer's": api('DELETE', (_w, s) => `/v3/api_tokens/${s['token']}`, {
      setup: async (w) => ({ token: await w.freshApiToken() }),
    }),
  },
  'root and UAA': {
    'GET /': api('GET', () => '/'),
    'GET /v3/info': api('GET', () => '/v3/info'),
    'GET /uaa/Users': uaa('GET', '/uaa/Users?filter=userName+eq+%22space-developer%22'),
    'POST /uaa/Users': uaa('POST', '/uaa/Users', (w) => ({
      userName: `uaa-user-${w.next()}`,
      password: 'pw',
    })),
    'GET /uaa/userinfo': uaa('GET', '/uaa/userinfo'),
  },
  registry: {
    catalog: registry(
      () => ['registry:catalog:*'],
      () => ({ method: 'GET', path: '/v2/_catalog' }),
      {
        check: async (_w, _s, who, res) => {
          if (res.status !== 200) return [];
          const got = res.body.repositories as string[];
          return JSON.stringify(got) === JSON.stringify(CATALOG[who])
            ? []
            : [`catalog ${JSON.stringify(got)}, wants ${JSON.stringify(CATALOG[who])}`];
        },
      },
    ),
    'pull manifest acme/dev/web': registry(
      () => ['repository:acme/dev/web:pull'],
      () => ({ method: 'GET', path: '/v2/acme/dev/web/manifests/v1', headers: { accept: OCI_MANIFEST } }),
      {
        check: async (w, _s, _who, res) =>
          res.status === 200 && res.text !== w.images['web']?.manifest.toString() ? ['another manifest'] : [],
      },
    ),
    'pull blob acme/dev/web': registry(
      () => ['repository:acme/dev/web:pull'],
      (w) => ({ method: 'GET', path: `/v2/acme/dev/web/blobs/${w.images['web']?.layerDigests[1]}` }),
    ),
    'referrers acme/dev/web': registry(
      () => ['repository:acme/dev/web:pull'],
      (w) => ({ method: 'GET', path: `/v2/acme/dev/web/referrers/${w.images['web']?.digest}` }),
      {
        check: async (w, _s, _who, res) =>
          res.status === 200 &&
          JSON.stringify(
            res.body.manifests.map((m: { digest: string; artifactType: string }) => [m.digest, m.artifactType]),
          ) !== JSON.stringify([[w.images['referrer']?.digest, ARTIFACT_TYPE]])
            ? [`referrers ${res.text}`]
            : [],
      },
    ),
    'tags/list acme/dev/web': registry(
      () => ['repository:acme/dev/web:pull'],
      () => ({ method: 'GET', path: '/v2/acme/dev/web/tags/list' }),
      {
        check: async (_w, _s, _who, res) =>
          res.status === 200 && !res.body.tags.includes('v1') ? [`tags ${res.text}`] : [],
      },
    ),
    'push acme/dev/web': registry(
      () => ['repository:acme/dev/web:pull,push'],
      (w, _s, who) => ({
        method: 'PUT',
        path: `/v2/acme/dev/web/manifests/by-${who}`,
        body: w.images['web']?.manifest,
        headers: { 'content-type': OCI_MANIFEST },
      }),
    ),
    'delete acme/dev/web (fresh manifest)': registry(
      () => ['repository:acme/dev/web:delete'],
      (_w, s) => ({ method: 'DELETE', path: `/v2/acme/dev/web/manifests/${s['digest']}` }),
      { setup: (w) => w.freshManifest('acme/dev/web') },
    ),
    'pull acme/qa/checker': registry(
      () => ['repository:acme/qa/checker:pull'],
      () => ({ method: 'GET', path: '/v2/acme/qa/checker/manifests/v1', headers: { accept: OCI_MANIFEST } }),
    ),
    'pull globex/prod/api': registry(
      () => ['repository:globex/prod/api:pull'],
      () => ({ method: 'GET', path: '/v2/globex/prod/api/manifests/v1', headers: { accept: OCI_MANIFEST } }),
    ),
    'push globex/prod/api': registry(
      () => ['repository:globex/prod/api:pull,push'],
      (w, _s, who) => ({
        method: 'PUT',
        path: `/v2/globex/prod/api/manifests/by-${who}`,
        body: w.images['api']?.manifest,
        headers: { 'content-type': OCI_MANIFEST },
      }),
    ),
    'pull by stored name apps/GUID': registry(
      (w) => [`repository:apps/${g(w, 'api')}:pull`],
      (w) => ({ method: 'GET', path: `/v2/apps/${g(w, 'api')}/manifests/v1`, headers: { accept: OCI_MANIFEST } }),
    ),
    'pull stacks/tiny/run': registry(
      () => ['repository:stacks/tiny/run:pull'],
      () => ({ method: 'GET', path: '/v2/stacks/tiny/run/manifests/latest', headers: { accept: OCI_MANIFEST } }),
    ),
    'push stacks/tiny/run': registry(
      () => ['repository:stacks/tiny/run:pull,push'],
      (w, _s, who) => ({
        method: 'PUT',
        path: `/v2/stacks/tiny/run/manifests/by-${who}`,
        body: w.images['stack']?.manifest,
        headers: { 'content-type': OCI_MANIFEST },
      }),
    ),
    'mount worker blob into acme/dev/web': mount('acme/dev/worker', 'acme/dev/web', true),
    'mount web blob into globex/prod/api': mount('acme/dev/web', 'globex/prod/api', true),
    'automount web blob into globex/prod/api': mount('acme/dev/web', 'globex/prod/api', false),
  },
  skopeo: {
    'copy (pull) acme/dev/web': skopeoCell(
      async (w, _s, who) => [
        'copy',
        '--src-tls-verify=false',
        ...skopeoCreds('--src-creds', w.creds[who].registry),
        `docker://${w.host}/acme/dev/web:v1`,
        `oci:${join(work, `pulled-${who}`)}:v1`,
      ],
      {
        check: async (w, who) => {
          const index = JSON.parse(await readFile(join(work, `pulled-${who}`, 'index.json'), 'utf8'));
          return index.manifests[0].digest === w.images['web']?.digest ? [] : [`pulled ${JSON.stringify(index)}`];
        },
      },
    ),
    'list-tags acme/dev/web': skopeoCell(
      async (w, _s, who) => [
        'list-tags',
        tlsOff,
        ...skopeoCreds('--creds', w.creds[who].registry),
        `docker://${w.host}/acme/dev/web`,
      ],
      { check: async (_w, _who, result) => (JSON.parse(result.stdout).Tags.includes('v1') ? [] : [result.stdout]) },
    ),
    'copy (push) to acme/dev/web': skopeoCell(async (w, _s, who) => {
      const layout = join(work, `push-${who}`);
      await writeLayout(layout, 'new', makeImage(['base', `skopeo-push-${who}`]));
      return [
        'copy',
        '--dest-tls-verify=false',
        ...skopeoCreds('--dest-creds', w.creds[who].registry),
        `oci:${layout}:new`,
        `docker://${w.host}/acme/dev/web:skopeo-${who}`,
      ];
    }),
    'delete acme/dev/web (fresh manifest)': skopeoCell(
      async (w, s, who) => [
        'delete',
        tlsOff,
        ...skopeoCreds('--creds', w.creds[who].registry),
        `docker://${w.host}/acme/dev/web:${s['tag']}`,
      ],
      { setup: (w) => w.freshManifest('acme/dev/web') },
    ),
    'inspect globex/prod/api': skopeoCell(async (w, _s, who) => [
      'inspect',
      '--raw',
      tlsOff,
      ...skopeoCreds('--creds', w.creds[who].registry),
      `docker://${w.host}/globex/prod/api:v1`,
    ]),
  },
};

/** A mount of a blob only `from` has into `into` (with `from=`, or automatic without it); 201 only when the caller may pull `from`. */
function mount(from: string, into: string, named: boolean): Cell {
  return registry(
    () => [`repository:${into}:pull,push`, `repository:${from}:pull`],
    (_w, s) => ({
      method: 'POST',
      path: `/v2/${into}/blobs/uploads/?mount=${s['digest']}${named ? `&from=${from}` : ''}`,
    }),
    {
      setup: async (w) => ({ digest: await w.freshBlob(from) }),
      check: async (w, s, _who, res) => {
        const has = await w.hasBlob(into, s['digest'] as string);
        if (res.status === 201 && !has) return ['201 but the blob is not there'];
        if (res.status !== 201 && has) return [`${res.status} but the blob was linked into ${into} (a leak)`];
        return [];
      },
    },
  );
}

function roleOf(w: MatrixWorld, type: string): string {
  return w.roles.find((role) => role.type === type)?.guid as string;
}

async function rubyBuildpack(w: MatrixWorld): Promise<string> {
  return (await w.c.ok('GET', '/v3/buildpacks?names=ruby_buildpack', w.admin)).resources[0].guid;
}

async function eventOf(w: MatrixWorld, type: string, target: string): Promise<string> {
  const res = await w.c.ok('GET', `/v3/audit_events?types=${type}&target_guids=${target}`, w.admin);
  return res.resources[0].guid;
}

let allEvents: { guid: string; space?: string; org?: string }[] = [];

function eventsSeen(w: MatrixWorld, who: Principal): string[] {
  const rule = EVENT_READS[who];
  const spaces = rule.spaces.map((s) => g(w, s));
  const orgs = rule.orgs.map((o) => g(w, o));
  const divergent = DIVERGENCES['lists: audit_events']?.slipway[who] === 'content';
  return allEvents
    .filter((e) => {
      if (GLOBAL_READERS.includes(who)) return true;
      if (e.space !== undefined && spaces.includes(e.space)) return true;
      // CF: an org auditor reads every event of the org; Slipway (divergence): only the org's own.
      return e.org !== undefined && orgs.includes(e.org) && (!divergent || e.space === undefined);
    })
    .map((e) => e.guid);
}

// ---------------------------------------------------------------------------

interface Result {
  cell: string;
  who: Principal;
  cf: number;
  want: number;
  got: number;
}

const haveSkopeo = commandExists('skopeo');

describe('the permission matrix over real HTTP', {
  skip: !process.env['CI'] && !haveSkopeo && 'skopeo is not installed',
}, () => {
  let w: MatrixWorld;
  let dir: { path: string; cleanup: () => Promise<void> };
  const results: Result[] = [];
  const leaks: string[] = [];

  before(async () => {
    dir = await tempDir('platform-matrix');
    work = join(dir.path, 'work');
    await mkdir(work, { recursive: true });
    w = await World.create(dir.path);
    await w.c.ok('POST', '/v3/buildpacks', w.admin, { name: 'ruby_buildpack' });
    allEvents = (await w.c.ok('GET', '/v3/audit_events?per_page=5000', w.admin)).resources.map(
      (e: { guid: string; space: { guid: string } | null; organization: { guid: string } | null }) => ({
        guid: e.guid,
        ...(e.space ? { space: e.space.guid } : {}),
        ...(e.organization ? { org: e.organization.guid } : {}),
      }),
    );
  });
  after(async () => {
    await w?.close();
    await dir?.cleanup();
  });

  for (const [section, cells] of Object.entries(TABLE)) {
    describe(section, () => {
      for (const [action, cell] of Object.entries(cells)) {
        const name = `${section}: ${action}`;
        it(action, async () => {
          const expect = EXPECT[name];
          assert.ok(expect, `${name} has a row in EXPECT`);
          assert.equal(expect.length, PRINCIPALS.length, `${name}: one cell per principal`);
          const divergence = DIVERGENCES[name]?.slipway ?? {};
          const got: Record<string, number> = {};
          const want: Record<string, number> = {};
          const problems: string[] = [];
          for (const [i, who] of PRINCIPALS.entries()) {
            const cf = expect[i] as number;
            const slipway = divergence[who];
            const expected = typeof slipway === 'number' ? slipway : cf;
            const setup = cell.setup ? await cell.setup(w) : {};
            const outcome = await cell.run(w, who, setup);
            got[who] = outcome.status;
            want[who] = expected;
            results.push({ cell: name, who, cf, want: expected, got: outcome.status });
            if (isLeak(cf, outcome.status) || outcome.extra?.length)
              leaks.push(`${name} / ${who}: CF ${cf}, got ${outcome.status} ${outcome.extra?.join(' ') ?? ''}`);
            for (const p of outcome.problems) problems.push(`${who}: ${p}`);
          }
          assert.deepEqual({ statuses: got, problems }, { statuses: want, problems: [] }, name);
        });
      }
    });
  }

  it('a role removed is gone at once on the API (same token) and from every registry token issued after it', async () => {
    const n = w.next();
    const cred = { username: `leaving-${n}`, password: `pw-leaving-${n}` };
    const user = await w.c.createUser(w.admin, cred.username, cred.password);
    await w.c.orgRole(w.admin, user, g(w, 'acme'), 'organization_user');
    const role = await w.c.spaceRole(w.admin, user, g(w, 'dev'), 'space_auditor');
    const access = await w.c.login(cred.username, cred.password);
    const ci = await w.c.apiToken(access, g(w, 'dev'), 'ci');
    const ciCred = { username: 'ci', password: ci.token };
    const scope = ['repository:acme/dev/web:pull'];
    const manifest = (token: string) =>
      w.c.call('GET', '/v2/acme/dev/web/manifests/v1', token, undefined, { accept: OCI_MANIFEST });
    const app = (auth: string) => w.c.call('GET', `/v3/apps/${g(w, 'web')}`, auth);

    const early = await w.c.registryTokenAnswer(cred, scope);
    const earlyToken = `Bearer ${early.body.token}`;
    assert.equal((await app(access)).status, 200);
    assert.equal((await app(`bearer ${ci.token}`)).status, 200);
    assert.equal((await manifest(earlyToken)).status, 200);
    assert.equal((await manifest(await w.c.registryToken(ciCred, scope))).status, 200);

    await w.c.ok('DELETE', `/v3/roles/${role}`, w.admin);

    // The API reads the roles at every request: the same access token and API token at once.
    assert.equal((await app(access)).status, 404);
    assert.equal((await w.c.call('GET', `/v3/spaces/${g(w, 'dev')}`, access)).status, 404);
    assert.equal((await app(`bearer ${ci.token}`)).status, 404);
    assert.equal((await w.c.call('GET', `/v3/organizations/${g(w, 'acme')}`, access)).status, 200, 'still an org user');
    // Every registry token issued after: nothing of the repository (hidden: 404 NAME_UNKNOWN).
    for (const c of [cred, ciCred]) {
      const later = await w.c.registryTokenAnswer(c, scope);
      assert.deepEqual(jwtClaims(later.body.token)['access'], [
        { type: 'repository', name: 'acme/dev/web', actions: [], hidden: true },
      ]);
      const res = await manifest(`Bearer ${later.body.token}`);
      assert.equal(res.status, 404);
      assert.equal(ociCode(res), 'NAME_UNKNOWN');
    }
    // A registry token issued before lives on, at most until its expiry (300 s).
    const claims = jwtClaims(early.body.token) as { iat: number; exp: number };
    assert.equal(early.body.expires_in, 300);
    assert.ok(claims.exp - claims.iat <= 300, `registry token lives ${claims.exp - claims.iat} s`);
    assert.equal((await manifest(earlyToken)).status, 200, 'a registry token already issued is good until it expires');

    // And a role given is there at once.
    await w.c.spaceRole(w.admin, user, g(w, 'dev'), 'space_developer');
    assert.equal((await app(access)).status, 200);
    assert.equal((await manifest(await w.c.registryToken(cred, ['repository:acme/dev/web:pull,push']))).status, 200);
  });

  it("an API token reads only its space and that space's org, whatever else its user reads", async () => {
    // The user audits acme and develops in globex/prod; the token is for prod.
    const n = w.next();
    const cred = { username: `two-orgs-${n}`, password: `pw-two-orgs-${n}` };
    const user = await w.c.createUser(w.admin, cred.username, cred.password);
    await w.c.orgRole(w.admin, user, g(w, 'acme'), 'organization_auditor');
    await w.c.orgRole(w.admin, user, g(w, 'globex'), 'organization_user');
    await w.c.spaceRole(w.admin, user, g(w, 'prod'), 'space_developer');
    const access = await w.c.login(cred.username, cred.password);
    const token = `bearer ${(await w.c.apiToken(access, g(w, 'prod'), 'ci')).token}`;
    const acmeEvent = await eventOf(w, 'audit.organization.create', g(w, 'acme'));
    const seen = async (auth: string, path: string) =>
      (await w.c.ok('GET', `${path}${path.includes('?') ? '&' : '?'}per_page=5000`, auth)).resources as {
        guid: string;
        name?: string;
        organization?: { guid: string } | null;
        relationships?: { organization?: { data: { guid: string } } };
      }[];

    // The user, with their password login, reads acme and its org events.
    assert.ok((await seen(access, '/v3/audit_events')).some((e) => e.guid === acmeEvent));
    assert.deepEqual((await seen(access, '/v3/organizations')).map((o) => o.name).sort(), ['acme', 'globex']);
    // The token: globex/prod only.
    assert.deepEqual(
      (await seen(token, '/v3/organizations')).map((o) => o.name),
      ['globex'],
    );
    assert.equal((await w.c.call('GET', `/v3/organizations/${g(w, 'acme')}`, token)).status, 404);
    const events = await seen(token, '/v3/audit_events');
    assert.deepEqual(
      events.filter((e) => e.organization?.guid !== g(w, 'globex')).map((e) => e.guid),
      [],
      'the token lists no event of another org',
    );
    assert.equal((await w.c.call('GET', `/v3/audit_events/${acmeEvent}`, token)).status, 404);
    const roles = await seen(token, '/v3/roles');
    assert.deepEqual(
      roles.filter((x) => x.relationships?.organization?.data?.guid === g(w, 'acme')).map((x) => x.guid),
      [],
      'the token lists no role of another org',
    );
    const users = (await seen(token, '/v3/users')).map((u) => (u as unknown as { username: string }).username).sort();
    assert.deepEqual(users, [cred.username, 'other-org-developer'].sort(), 'the token lists the users of its org only');
  });

  it('tokens live at most their lifetimes (access 10 min, registry 5 min, staging 30 min) and are refused after', async () => {
    const { username, password, guid } = w.users.orgUser;
    const grant = await w.c.passwordGrant(username, password);
    assert.equal(grant.status, 200);
    assert.equal(grant.body.expires_in, 600);
    const access = jwtClaims(grant.body.access_token) as { iat: number; exp: number };
    assert.ok(access.exp - access.iat <= 600, `an access token lives ${access.exp - access.iat} s`);
    assert.ok(access.exp <= Date.now() / 1000 + 601);
    // A refresh gives a new 10-minute token and uses the refresh token up.
    const refresh = () =>
      w.c.call(
        'POST',
        '/uaa/oauth/token',
        `Basic ${Buffer.from('cf:').toString('base64')}`,
        new URLSearchParams({ grant_type: 'refresh_token', refresh_token: grant.body.refresh_token }).toString(),
        { 'content-type': 'application/x-www-form-urlencoded' },
      );
    const refreshed = await refresh();
    assert.equal(refreshed.status, 200);
    const again = jwtClaims(refreshed.body.access_token) as { iat: number; exp: number };
    assert.ok(again.exp - again.iat <= 600);
    assert.equal((await refresh()).status, 401, 'a refresh token is good once');

    // Expired tokens, signed with the server's own key: refused.
    const key = await loadOrCreateTokenKey(defaultTokenKeyPath(w.p.home));
    const user = await w.p.pstore.getUser(guid);
    assert.ok(user);
    const past = new PlatformTokens({ key, issuer: PLATFORM_ISSUER, accessSeconds: -60 });
    const valid = new PlatformTokens({ key, issuer: PLATFORM_ISSUER });
    const org = `/v3/organizations/${g(w, 'acme')}`;
    assert.equal((await w.c.call('GET', org, `bearer ${(await valid.issueAccess(user)).token}`)).status, 200);
    const expired = await w.c.call('GET', org, `bearer ${(await past.issueAccess(user)).token}`);
    assert.equal(expired.status, 401);
    assert.equal(expired.body.errors[0].title, 'CF-InvalidAuthToken');

    // Registry tokens: 300 s, and refused once expired.
    const scope = 'repository:stacks/tiny/run:pull';
    const answer = await w.c.registryTokenAnswer({ username, password }, [scope]);
    const rt = jwtClaims(answer.body.token) as { iat: number; exp: number };
    assert.equal(answer.body.expires_in, 300);
    assert.ok(rt.exp - rt.iat <= 300);
    const grantAll = { login: async () => undefined, authorize: async (_s: string | undefined, a: never) => a };
    const sign = (seconds: number) =>
      new TokenService({ key, authorizer: grantAll, service: REGISTRY_SERVICE, expirySeconds: seconds }).issue(
        `user:${guid}`,
        [{ type: 'repository', name: 'stacks/tiny/run', actions: ['pull'] }],
      );
    const get = async (seconds: number) =>
      w.c.call('GET', '/v2/stacks/tiny/run/manifests/latest', `Bearer ${(await sign(seconds)).token}`, undefined, {
        accept: OCI_MANIFEST,
      });
    assert.equal((await get(300)).status, 200, 'a token of the server key is taken');
    const stale = await get(-60);
    assert.equal(stale.status, 401);
    assert.match(stale.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

    // Staging tokens: 30 minutes; an expired one is no login.
    const staging = jwtClaims(w.creds.staging.registry?.password as string) as { iat: number; exp: number };
    assert.ok(staging.exp - staging.iat <= 1800);
    const old = await w.p.tokens.issueStaging(
      { appGuid: g(w, 'web'), spaceGuid: g(w, 'dev'), orgGuid: g(w, 'acme'), repository: 'acme/dev/web' },
      -60,
    );
    const login = await w.c.registryTokenAnswer({ username: 'staging', password: old }, [
      'repository:acme/dev/web:push',
    ]);
    assert.equal(login.status, 401);
  });

  it('0 leaks: no answer gives more than CF', () => {
    const cells = Object.values(TABLE).reduce((n, s) => n + Object.keys(s).length, 0);
    const divergences = Object.entries(DIVERGENCES).flatMap(([cell, d]) =>
      Object.entries(d.slipway).map(([who, answer]) => `${cell} / ${who}: ${answer} (${d.why})`),
    );
    process.stdout.write(
      `# matrix: ${cells} actions x ${PRINCIPALS.length} principals = ${results.length} cells, ` +
        `${results.filter((x) => x.got >= 400).length} of them denials; leaks: ${leaks.length}; ` +
        `deliberate divergences from CF (stricter): ${divergences.length}\n${divergences.map((d) => `#   ${d}\n`).join('')}`,
    );
    assert.equal(Object.keys(EXPECT).length, cells, 'every row of EXPECT has its action');
    assert.equal(results.length, cells * PRINCIPALS.length, 'every cell ran');
    assert.deepEqual(leaks, []);
  });
});

/**
 * Whether an answer gives more than CF's: a 2xx for a refusal, a 403 (it exists) where CF
 * hides it (404), or a mount made (201) where CF's answer is a new upload (202).
 */
function isLeak(cf: number, got: number): boolean {
  const ok = (s: number) => s >= 200 && s < 300;
  return (!ok(cf) && ok(got)) || (cf === 404 && got === 403) || (cf === 202 && got === 201);
}
