/**
 * bench/platform-list-apps.ts: the SQLite PlatformStore's listApps, in process, on
 * 10,000 apps (100 orgs x 10 spaces x 10 apps), for the callers the v3 API serves:
 * a space developer of a few spaces, an org manager, an API token in one space, an
 * admin, and filters (names, label selector, later pages). Prints the median and
 * p99 of each per call, and the query plan of the space developer's query. No peer
 * tool: the target is the API's (p99 < 20 ms at 32 connections over HTTP), so
 * in-process a call should take well under 5 ms.
 *
 *   node --import tsx bench/platform-list-apps.ts [iterations=2000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { emptyMetadata, newGuid, now } from '../src/platform/model.js';
import { ORG_ROLES_READING_SPACES, SPACE_READING } from '../src/platform/roles.js';
import type { AppFilter, ListQuery, Visibility } from '../src/platform/store/platform-store.js';
import { SqlitePlatformStore } from '../src/platform/store/sqlite-platform-store.js';

const ITERATIONS = Number(process.argv[2] ?? 2000);
const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-platform-'));
const file = join(dir, 'platform.sqlite');
const store = await SqlitePlatformStore.open(file);

const meta = () => ({ ...emptyMetadata() });
const stamp = () => ({ createdAt: now(), updatedAt: now() });

async function user(name: string) {
  return store.createUser(
    { guid: newGuid(), username: name, origin: 'uaa', globalRoles: [], metadata: meta(), ...stamp() },
    {},
  );
}

const t0 = performance.now();
const others = await Promise.all(Array.from({ length: 20 }, (_, i) => user(`other-${i}`)));
const dev = await user('dev');
const manager = await user('manager');
const orgs: string[] = [];
const spaces: string[] = [];
for (let o = 0; o < 100; o++) {
  const org = await store.createOrg({
    guid: newGuid(),
    name: `org-${o}`,
    slug: `org-${o}`,
    suspended: false,
    metadata: meta(),
    ...stamp(),
  });
  orgs.push(org.guid);
  for (const u of others.slice(0, 5)) {
    await store.createRole({
      guid: newGuid(),
      type: 'organization_user',
      userGuid: u.guid,
      orgGuid: org.guid,
      metadata: meta(),
      ...stamp(),
    });
  }
  for (let s = 0; s < 10; s++) {
    const space = await store.createSpace({
      guid: newGuid(),
      name: `space-${s}`,
      slug: `space-${s}`,
      orgGuid: org.guid,
      metadata: meta(),
      ...stamp(),
    });
    spaces.push(space.guid);
    await store.createRole({
      guid: newGuid(),
      type: 'space_developer',
      userGuid: others[o % 5]!.guid,
      spaceGuid: space.guid,
      metadata: meta(),
      ...stamp(),
    });
    for (let a = 0; a < 10; a++) {
      await store.createApp({
        guid: newGuid(),
        name: `app-${a}`,
        slug: `app-${a}`,
        spaceGuid: space.guid,
        state: a % 2 === 0 ? 'STARTED' : 'STOPPED',
        lifecycle: { type: 'buildpack', data: { buildpacks: [], stack: 'cflinuxfs4' } },
        environmentVariables: { SECRET: 'x' },
        metadata: { labels: { tier: a % 3 === 0 ? 'web' : 'worker', team: `t${o % 7}` }, annotations: {} },
        ...stamp(),
      });
    }
  }
}
// dev: org user in 3 orgs, developer in 2 spaces of each (6 spaces, 60 apps).
for (const o of [3, 47, 91]) {
  await store.createRole({
    guid: newGuid(),
    type: 'organization_user',
    userGuid: dev.guid,
    orgGuid: orgs[o]!,
    metadata: meta(),
    ...stamp(),
  });
  for (const s of [o * 10 + 1, o * 10 + 7]) {
    await store.createRole({
      guid: newGuid(),
      type: 'space_developer',
      userGuid: dev.guid,
      spaceGuid: spaces[s]!,
      metadata: meta(),
      ...stamp(),
    });
  }
}
await store.createRole({
  guid: newGuid(),
  type: 'organization_manager',
  userGuid: manager.guid,
  orgGuid: orgs[50]!,
  metadata: meta(),
  ...stamp(),
});
console.log(`seeded 10,000 apps in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const roles = (userGuid: string, onlySpace?: string): Visibility => ({
  kind: 'roles',
  userGuid,
  spaceRoles: SPACE_READING,
  orgRoles: ORG_ROLES_READING_SPACES,
  ...(onlySpace ? { onlySpace } : {}),
});
const page1: ListQuery = { page: 1, perPage: 50, orderBy: 'created_at' };
const cases: [string, ListQuery, AppFilter, Visibility][] = [
  ['space developer of 6 spaces', page1, {}, roles(dev.guid)],
  ['space developer, order by -name', { ...page1, orderBy: '-name' }, {}, roles(dev.guid)],
  [
    'space developer, label tier=web',
    page1,
    { labelSelector: [{ key: 'tier', op: 'in', values: ['web'] }] },
    roles(dev.guid),
  ],
  ['org manager of 1 org (100 apps)', page1, {}, roles(manager.guid)],
  ['API token in one space', page1, {}, roles(dev.guid, spaces[31])],
  ['admin, page 1', page1, {}, { kind: 'all' }],
  ['admin, page 100', { ...page1, page: 100 }, {}, { kind: 'all' }],
  ['admin, names=app-3', page1, { names: ['app-3'] }, { kind: 'all' }],
  [
    'admin, label tier=web,team=t3',
    page1,
    {
      labelSelector: [
        { key: 'tier', op: 'in', values: ['web'] },
        { key: 'team', op: 'in', values: ['t3'] },
      ],
    },
    { kind: 'all' },
  ],
  ['admin, label !tier', page1, { labelSelector: [{ key: 'tier', op: 'notexists', values: [] }] }, { kind: 'all' }],
];

for (const [name, query, filter, visibility] of cases) {
  const first = await store.listApps(query, filter, visibility);
  const times: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const start = performance.now();
    await store.listApps(query, filter, visibility);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(3);
  console.log(
    `${name.padEnd(36)} items ${String(first.items.length).padStart(2)} total ${String(first.total).padStart(5)}  median ${q(0.5)} ms  p99 ${q(0.99)} ms`,
  );
}

// The plan of the space developer's query, as the store builds it.
const db = new Database(file, { readonly: true });
const plan = db
  .prepare(
    `EXPLAIN QUERY PLAN SELECT t.guid FROM apps t WHERE ((t.space_guid IN (SELECT r.space_guid FROM roles r WHERE r.user_guid = ? AND r.type IN (?, ?, ?, ?) AND r.space_guid IS NOT NULL) OR t.org_guid IN (SELECT r.org_guid FROM roles r WHERE r.user_guid = ? AND r.type IN (?) AND r.space_guid IS NULL))) ORDER BY t.created_at, t.id LIMIT 50`,
  )
  .all(dev.guid, ...SPACE_READING, dev.guid, ...ORG_ROLES_READING_SPACES) as { detail: string }[];
console.log('plan (space developer):\n' + plan.map((r) => `  ${r.detail}`).join('\n'));
db.close();
await store.close();
if (process.env['KEEP']) console.log(`kept ${file}`);
else await rm(dir, { recursive: true, force: true });
