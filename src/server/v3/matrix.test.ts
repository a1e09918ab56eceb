import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stackGuid } from '../../platform/actions/stacks.js';
import { type Principal, PRINCIPALS, World } from './testdata/world.js';

/**
 * The role matrix of the v3 API, in-process: every principal of CF's roles (and
 * anonymous, and another org's developer) against list, get, create, update and delete
 * of each resource, written once from CF's rules (cf-roles.md, Cloud Controller's
 * controllers). A cell is the status the answer must have; a denied answer's body is
 * checked too (404 CF-ResourceNotFound, 403 CF-NotAuthorized, 422, 401 CF-NotAuthenticated).
 *
 * Acme's space "dev" holds app "web"; the org roles are in acme, the space roles in
 * dev (each space role holder is also acme's organization_user); "other" develops in
 * globex's space "prod".
 */

const ORDER = [...PRINCIPALS, 'anonymous'] as const satisfies readonly Principal[];

interface Cell {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The path, from the world (and a setup made for this cell). */
  path: (w: World, setup: Setup) => string;
  body?: (w: World, setup: Setup, n: number) => unknown;
  /** Makes what the cell acts on (a user to give a role, a buildpack to delete). */
  setup?: (w: World) => Promise<Setup>;
  /** The cell changes what it acts on: each principal gets a world of its own. */
  fresh?: boolean;
  /** Expected status per principal, in ORDER. */
  expect: readonly number[];
}

type Setup = Record<string, string>;

//                                     adm  aRO  gAud oMgr oAud oBil oUsr sDev sMgr sAud sSup other anon
const ALL_SIGNED_IN: readonly number[] = [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401];

const MATRIX: Record<string, Record<string, Cell>> = {
  organizations: {
    list: { method: 'GET', path: () => '/v3/organizations', expect: ALL_SIGNED_IN },
    get: {
      method: 'GET',
      path: (w) => `/v3/organizations/${w.acme.guid}`,
      expect: [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 404, 401],
    },
    create: {
      method: 'POST',
      path: () => '/v3/organizations',
      body: (_w, _s, n) => ({ name: `new-org-${n}` }),
      expect: [201, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401],
    },
    update: {
      method: 'PATCH',
      path: (w) => `/v3/organizations/${w.acme.guid}`,
      body: (_w, _s, n) => ({ name: `acme-${n}` }),
      expect: [200, 403, 403, 200, 403, 403, 403, 403, 403, 403, 403, 404, 401],
    },
    delete: {
      method: 'DELETE',
      path: (w) => `/v3/organizations/${w.acme.guid}`,
      fresh: true,
      expect: [202, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 401],
    },
  },
  spaces: {
    list: { method: 'GET', path: () => '/v3/spaces', expect: ALL_SIGNED_IN },
    get: {
      method: 'GET',
      path: (w) => `/v3/spaces/${w.dev.guid}`,
      expect: [200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 200, 404, 401],
    },
    create: {
      method: 'POST',
      path: () => '/v3/spaces',
      body: (w, _s, n) => ({ name: `space-${n}`, relationships: { organization: { data: { guid: w.acme.guid } } } }),
      expect: [201, 403, 403, 201, 403, 403, 403, 403, 403, 403, 403, 422, 401],
    },
    update: {
      method: 'PATCH',
      path: (w) => `/v3/spaces/${w.dev.guid}`,
      body: (_w, _s, n) => ({ name: `dev-${n}` }),
      expect: [200, 403, 403, 200, 404, 404, 404, 403, 200, 403, 403, 404, 401],
    },
    delete: {
      method: 'DELETE',
      path: (w) => `/v3/spaces/${w.dev.guid}`,
      fresh: true,
      expect: [202, 403, 403, 202, 404, 404, 404, 403, 403, 403, 403, 404, 401],
    },
  },
  apps: {
    list: { method: 'GET', path: () => '/v3/apps', expect: ALL_SIGNED_IN },
    get: {
      method: 'GET',
      path: (w) => `/v3/apps/${w.web.guid}`,
      expect: [200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 200, 404, 401],
    },
    create: {
      method: 'POST',
      path: () => '/v3/apps',
      body: (w, _s, n) => ({ name: `app-${n}`, relationships: { space: { data: { guid: w.dev.guid } } } }),
      expect: [201, 403, 403, 403, 422, 422, 422, 201, 403, 403, 403, 422, 401],
    },
    update: {
      method: 'PATCH',
      path: (w) => `/v3/apps/${w.web.guid}`,
      body: (_w, _s, n) => ({ name: `web-${n}` }),
      expect: [200, 403, 403, 403, 404, 404, 404, 200, 403, 403, 403, 404, 401],
    },
    delete: {
      method: 'DELETE',
      path: (w) => `/v3/apps/${w.web.guid}`,
      fresh: true,
      expect: [202, 403, 403, 403, 404, 404, 404, 202, 403, 403, 403, 404, 401],
    },
    'get environment_variables': {
      method: 'GET',
      path: (w) => `/v3/apps/${w.web.guid}/environment_variables`,
      expect: [200, 200, 403, 403, 404, 404, 404, 200, 403, 403, 403, 404, 401],
    },
    'update environment_variables': {
      method: 'PATCH',
      path: (w) => `/v3/apps/${w.web.guid}/environment_variables`,
      body: (_w, _s, n) => ({ var: { [`V${n}`]: 'x' } }),
      expect: [200, 403, 403, 403, 404, 404, 404, 200, 403, 403, 200, 404, 401],
    },
    'get env': {
      method: 'GET',
      path: (w) => `/v3/apps/${w.web.guid}/env`,
      expect: [200, 200, 403, 403, 404, 404, 404, 200, 403, 403, 403, 404, 401],
    },
  },
  roles: {
    list: { method: 'GET', path: () => '/v3/roles', expect: ALL_SIGNED_IN },
    'get space role': {
      method: 'GET',
      path: (_w, s) => `/v3/roles/${s.role}`,
      setup: async (w) => ({ role: await roleOf(w, 'spaceDeveloper', 'space_developer') }),
      expect: [200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 200, 404, 401],
    },
    'get org role': {
      method: 'GET',
      path: (_w, s) => `/v3/roles/${s.role}`,
      setup: async (w) => ({ role: await roleOf(w, 'orgAuditor', 'organization_auditor') }),
      expect: [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 404, 401],
    },
    'create org role': {
      method: 'POST',
      path: () => '/v3/roles',
      setup: async (w) => ({ user: (await w.user(`newcomer-${Math.random()}`)).guid }),
      body: (w, s) => ({
        type: 'organization_auditor',
        relationships: { user: { data: { guid: s.user } }, organization: { data: { guid: w.acme.guid } } },
      }),
      expect: [201, 403, 403, 201, 403, 403, 403, 403, 403, 403, 403, 422, 401],
    },
    'create space role': {
      method: 'POST',
      path: () => '/v3/roles',
      setup: async (w) => {
        const user = await w.user(`member-${Math.random()}`);
        await w.orgRole(user, w.acme, 'organization_user');
        return { user: user.guid };
      },
      body: (w, s) => ({
        type: 'space_auditor',
        relationships: { user: { data: { guid: s.user } }, space: { data: { guid: w.dev.guid } } },
      }),
      expect: [201, 403, 403, 201, 422, 422, 422, 403, 201, 403, 403, 422, 401],
    },
    'delete space role': {
      method: 'DELETE',
      path: (_w, s) => `/v3/roles/${s.role}`,
      setup: async (w) => ({ role: await roleOf(w, 'spaceAuditor', 'space_auditor') }),
      fresh: true,
      expect: [202, 403, 403, 202, 404, 404, 404, 403, 202, 403, 403, 404, 401],
    },
    'delete org role': {
      method: 'DELETE',
      path: (_w, s) => `/v3/roles/${s.role}`,
      setup: async (w) => ({ role: await roleOf(w, 'orgBillingManager', 'organization_billing_manager') }),
      fresh: true,
      expect: [202, 403, 403, 202, 403, 403, 403, 403, 403, 403, 403, 404, 401],
    },
  },
  users: {
    list: { method: 'GET', path: () => '/v3/users', expect: ALL_SIGNED_IN },
    get: {
      method: 'GET',
      path: (w) => `/v3/users/${w.users.spaceDeveloper.guid}`,
      expect: [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 404, 401],
    },
    create: {
      method: 'POST',
      path: () => '/v3/users',
      body: (_w, _s, n) => ({ username: `ldap-user-${n}`, origin: 'ldap' }),
      expect: [201, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401],
    },
    delete: {
      method: 'DELETE',
      path: (w) => `/v3/users/${w.users.orgUser.guid}`,
      fresh: true,
      expect: [202, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 401],
    },
  },
  stacks: {
    list: { method: 'GET', path: () => '/v3/stacks', expect: ALL_SIGNED_IN },
    get: { method: 'GET', path: () => `/v3/stacks/${stackGuid('bookworm')}`, expect: ALL_SIGNED_IN },
  },
  buildpacks: {
    list: { method: 'GET', path: () => '/v3/buildpacks', expect: ALL_SIGNED_IN },
    get: { method: 'GET', path: (w) => `/v3/buildpacks/${w.ruby.guid}`, expect: ALL_SIGNED_IN },
    create: {
      method: 'POST',
      path: () => '/v3/buildpacks',
      body: (_w, _s, n) => ({ name: `bp_${n}` }),
      expect: [201, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401],
    },
    update: {
      method: 'PATCH',
      path: (w) => `/v3/buildpacks/${w.ruby.guid}`,
      body: () => ({ enabled: false }),
      expect: [200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401],
    },
    delete: {
      method: 'DELETE',
      path: (_w, s) => `/v3/buildpacks/${s.bp}`,
      setup: async (w) => ({ bp: (await w.buildpack(`doomed_${Math.random().toString(36).slice(2)}`)).guid }),
      expect: [202, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401],
    },
  },
  audit_events: {
    list: { method: 'GET', path: () => '/v3/audit_events', expect: ALL_SIGNED_IN },
  },
};

async function roleOf(w: World, who: Principal, type: string): Promise<string> {
  const roles = await w.store.rolesOf(w.users[who].guid);
  const role = roles.find((r) => r.type === type);
  assert.ok(role, `${who} has ${type}`);
  return role.guid;
}

const DENIED: Record<number, { code: number; title: string }> = {
  401: { code: 10002, title: 'CF-NotAuthenticated' },
  403: { code: 10003, title: 'CF-NotAuthorized' },
  404: { code: 10010, title: 'CF-ResourceNotFound' },
  422: { code: 10008, title: 'CF-UnprocessableEntity' },
};

describe('v3 role matrix', () => {
  let shared: World;
  let n = 0;
  before(async () => {
    shared = await World.create();
  });
  after(async () => {
    await shared.close();
  });

  for (const [resource, cells] of Object.entries(MATRIX)) {
    describe(resource, () => {
      for (const [action, cell] of Object.entries(cells)) {
        it(`${action}: ${cell.method}`, async () => {
          assert.equal(cell.expect.length, ORDER.length, 'one cell per principal');
          const got: Record<string, number> = {};
          const want: Record<string, number> = {};
          for (const [i, who] of ORDER.entries()) {
            const w = cell.fresh ? await World.create() : shared;
            try {
              const setup = cell.setup ? await cell.setup(w) : {};
              n += 1;
              const res = await w.call(cell.method, cell.path(w, setup), who, cell.body?.(w, setup, n));
              got[who] = res.status;
              want[who] = cell.expect[i] as number;
              const denied = DENIED[res.status];
              if (denied) {
                assert.equal(res.body.errors.length, 1, `${who}: one error`);
                assert.equal(res.body.errors[0].code, denied.code, `${who}: ${JSON.stringify(res.body)}`);
                assert.equal(res.body.errors[0].title, denied.title);
              }
              if (res.status === 202)
                assert.match(res.headers.get('location') ?? '', /^https:\/\/api\.example\.com\/v3\/jobs\//);
            } finally {
              if (cell.fresh) await w.close();
            }
          }
          assert.deepEqual(got, want);
        });
      }
    });
  }
});
