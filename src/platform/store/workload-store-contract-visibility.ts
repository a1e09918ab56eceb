import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { App, Organization, Space, User } from '../model.js';
import type { Domain, Droplet, Process, Route } from '../workload.js';
import { ALL, NONE, q } from './platform-store-fixture.js';
import type { Visibility } from './platform-store.js';
import type { WorkloadHarness } from './workload-store-fixture.js';

/**
 * The WorkloadStore contract, part 4: what each caller's lists hold (everything of an
 * app through the app's space, a route through its own, a private domain through its
 * org), and what goes when an app, a space or an org goes.
 */
export function workloadVisibilityContract(h: WorkloadHarness): void {
  describe('workload visibility', () => {
    let acme: Organization;
    let dev: Space;
    let prod: Space;
    let far: Space;
    let apps: App[];
    let users: Record<'developer' | 'farDeveloper' | 'manager' | 'orgUser' | 'admin' | 'stranger', User>;

    beforeEach(async () => {
      acme = await h.fx.org('acme');
      const other = await h.fx.org('other');
      dev = await h.fx.space(acme, 'dev');
      prod = await h.fx.space(acme, 'prod');
      far = await h.fx.space(other, 'far');
      const shared = await h.fx.domain('apps.example.com');
      await h.fx.domain('acme.example.com', acme);
      await h.fx.domain('other.example.com', other);
      apps = [];
      for (const [space, name] of [
        [dev, 'dev-web'],
        [prod, 'prod-web'],
        [far, 'far-web'],
      ] as const) {
        const app = await h.fx.app(space, name);
        apps.push(app);
        const pkg = await h.fx.package(app);
        await h.fx.build(pkg);
        const droplet = await h.fx.droplet(app);
        await h.fx.process(app, 'web');
        await h.fx.deployment(app, droplet);
        await h.fx.revision(app, droplet);
        await h.fx.route(space, shared, name);
      }
      users = {
        developer: await h.fx.user('developer'),
        farDeveloper: await h.fx.user('far-developer'),
        manager: await h.fx.user('manager'),
        orgUser: await h.fx.user('org-user'),
        admin: await h.fx.user('admin', ['admin']),
        stranger: await h.fx.user('stranger'),
      };
      await h.fx.member(users.developer, dev, 'space_developer');
      await h.fx.member(users.farDeveloper, far, 'space_developer');
      await h.fx.orgRole(users.manager, acme, 'organization_manager');
      await h.fx.orgRole(users.orgUser, acme, 'organization_user');
    });

    /** The names of the apps whose rows each list holds, for this visibility. */
    async function seen(v: Visibility): Promise<Record<string, string[]>> {
      const name = (guid: string) => apps.find((a) => a.guid === guid)?.name ?? guid;
      const names = (items: { appGuid: string }[]) => items.map((i) => name(i.appGuid)).sort();
      const w = h.workloads;
      const fleet = await w.fleetSummary(v);
      return {
        fleetApps: fleet.apps.map((a) => a.name).sort(),
        fleetProcesses: names(fleet.processes),
        packages: names((await w.listPackages(q(), {}, v)).items),
        builds: names((await w.listBuilds(q(), {}, v)).items),
        droplets: names((await w.listDroplets(q(), {}, v)).items),
        processes: names((await w.listProcesses(q(), {}, v)).items),
        deployments: names((await w.listDeployments(q(), {}, v)).items),
        revisions: names((await w.listRevisions(q(), {}, v)).items),
        routes: (await w.listRoutes(q(), {}, v)).items.map((r) => r.host).sort(),
      };
    }

    const every = (appNames: string[]) => ({
      fleetApps: appNames,
      fleetProcesses: appNames,
      packages: appNames,
      builds: appNames,
      droplets: appNames,
      processes: appNames,
      deployments: appNames,
      revisions: appNames,
      routes: appNames,
    });

    const domainNames = async (v: Visibility) =>
      (await h.workloads.listDomains(q({ orderBy: 'name' }), {}, v)).items.map((d) => d.name);

    it("the fleet summary: each app with its current droplet's stack and version, in creation order", async () => {
      const [devWeb] = apps;
      const current = await h.fx.droplet(devWeb!, { state: 'STAGED', stack: 'cflinuxfs4', stackVersion: '7' });
      await h.workloads.setCurrentDroplet(devWeb!.guid, current.guid);
      const fleet = await h.workloads.fleetSummary(ALL);
      assert.deepEqual(
        fleet.apps.map((a) => a.name),
        ['dev-web', 'prod-web', 'far-web'],
      );
      assert.deepEqual(fleet.apps[0], {
        guid: devWeb!.guid,
        name: 'dev-web',
        spaceGuid: dev.guid,
        state: devWeb!.state,
        autoRebase: true,
        currentDropletGuid: current.guid,
        stack: 'cflinuxfs4',
        stackVersion: '7',
      });
      assert.equal(fleet.apps[1]!.currentDropletGuid, undefined);
      assert.equal(fleet.apps[1]!.stack, undefined);
    });

    it("a space developer reads its space's workload only; another org's developer reads theirs only", async () => {
      assert.deepEqual(await seen(await h.fx.spaceVisibility(users.developer)), every(['dev-web']));
      assert.deepEqual(await seen(await h.fx.spaceVisibility(users.farDeveloper)), every(['far-web']));
    });

    it("an org manager reads every space's workload in the org; an org user none", async () => {
      assert.deepEqual(await seen(await h.fx.spaceVisibility(users.manager)), every(['dev-web', 'prod-web']));
      assert.deepEqual(await seen(await h.fx.spaceVisibility(users.orgUser)), every([]));
    });

    it('an admin reads everything; a stranger and `none` nothing', async () => {
      const admin = await h.fx.spaceVisibility(users.admin);
      assert.deepEqual(admin, ALL);
      assert.deepEqual(await seen(admin), every(['dev-web', 'far-web', 'prod-web']));
      assert.deepEqual(await seen(await h.fx.spaceVisibility(users.stranger)), every([]));
      assert.deepEqual(await seen(NONE), every([]));
    });

    it("an API token reads its one space's workload", async () => {
      assert.deepEqual(await seen(await h.fx.spaceVisibility(users.manager, prod.guid)), every(['prod-web']));
      assert.deepEqual(await seen(await h.fx.spaceVisibility(users.developer, prod.guid)), every([]));
    });

    it("shared domains are everyone's; a private domain its org's", async () => {
      const shared = ['apps.example.com'];
      assert.deepEqual(await domainNames(await h.fx.orgVisibility(users.developer)), ['acme.example.com', ...shared]);
      assert.deepEqual(await domainNames(await h.fx.orgVisibility(users.orgUser)), ['acme.example.com', ...shared]);
      assert.deepEqual(await domainNames(await h.fx.orgVisibility(users.farDeveloper)), [
        ...shared,
        'other.example.com',
      ]);
      assert.deepEqual(await domainNames(await h.fx.orgVisibility(users.stranger)), shared);
      assert.deepEqual(await domainNames(ALL), ['acme.example.com', ...shared, 'other.example.com']);
      assert.deepEqual(await domainNames(NONE), []);
    });

    it('filters within what the caller reads: a filter naming an unreadable app finds nothing', async () => {
      const v = await h.fx.spaceVisibility(users.developer);
      const farWeb = apps[2]!;
      assert.equal((await h.workloads.listPackages(q(), { appGuids: [farWeb.guid] }, v)).total, 0);
      assert.equal((await h.workloads.listProcesses(q(), { spaceGuids: [far.guid] }, v)).total, 0);
      assert.equal((await h.workloads.listRoutes(q(), { spaceGuids: [far.guid] }, v)).total, 0);
      assert.equal((await h.workloads.listRoutes(q(), { spaceGuids: [dev.guid] }, v)).total, 1);
    });
  });

  describe('cascades', () => {
    /** An app with one of everything, on a route of its space; answers what it made. */
    async function fullApp(space: Space, name: string, domain: Domain) {
      const app = await h.fx.app(space, name);
      const pkg = await h.fx.package(app);
      const build = await h.fx.build(pkg);
      const droplet: Droplet = await h.fx.droplet(app, { buildGuid: build.guid, packageGuid: pkg.guid });
      await h.workloads.updateBuild(build.guid, { state: 'STAGED', dropletGuid: droplet.guid });
      await h.workloads.setCurrentDroplet(app.guid, droplet.guid);
      const web: Process = await h.fx.process(app, 'web');
      const instance = await h.fx.instance(web, droplet, 0);
      const deployment = await h.fx.deployment(app, droplet);
      const revision = await h.fx.revision(app, droplet);
      const route: Route = await h.fx.route(space, domain, name);
      await h.workloads.addDestinations(route.guid, [h.fx.destinationValue(route, app)]);
      return { app, pkg, build, droplet, web, instance, deployment, revision, route };
    }

    async function gone(made: Awaited<ReturnType<typeof fullApp>>, routeToo: boolean): Promise<void> {
      const w = h.workloads;
      assert.equal(await w.getPackage(made.pkg.guid), undefined, 'package');
      assert.equal(await w.getBuild(made.build.guid), undefined, 'build');
      assert.equal(await w.getDroplet(made.droplet.guid), undefined, 'droplet');
      assert.equal(await w.getProcess(made.web.guid), undefined, 'process');
      assert.deepEqual(await w.instancesOf(made.web.guid), [], 'instances');
      assert.deepEqual(
        (await w.instancesOnHost(made.instance.host)).filter((i) => i.appGuid === made.app.guid),
        [],
        'instances on the host',
      );
      assert.equal(await w.getDeployment(made.deployment.guid), undefined, 'deployment');
      assert.equal(await w.activeDeployment(made.app.guid), undefined, 'active deployment');
      assert.equal(await w.getRevision(made.revision.guid), undefined, 'revision');
      assert.deepEqual(await w.destinationsOf(made.route.guid), [], 'destinations');
      assert.equal((await w.getRoute(made.route.guid)) === undefined, routeToo, 'route');
    }

    it("deleting an app takes its packages, builds, droplets, processes, instances, destinations, deployments and revisions; its space's route stays", async () => {
      const acme = await h.fx.org('acme');
      const dev = await h.fx.space(acme, 'dev');
      const domain = await h.fx.domain('apps.example.com');
      const web = await fullApp(dev, 'web', domain);
      const api = await fullApp(dev, 'api', domain);
      await h.workloads.addDestinations(api.route.guid, [h.fx.destinationValue(api.route, web.app)]);
      assert.equal(await h.platform.deleteApp(web.app.guid), true);
      await gone(web, false);
      assert.deepEqual(
        (await h.workloads.destinationsOf(api.route.guid)).map((d) => d.appGuid),
        [api.app.guid],
        "another route's destination to the app went, the rest stayed",
      );
      assert.equal((await h.workloads.currentDroplet(api.app.guid))?.guid, api.droplet.guid, 'the other app is whole');
      assert.equal((await h.workloads.instancesOf(api.web.guid)).length, 1);
      assert.equal((await h.workloads.listRevisions(q(), {}, ALL)).total, 1);
    });

    it('deleting a space takes its routes (with destinations from elsewhere) and its apps with theirs', async () => {
      const acme = await h.fx.org('acme');
      const dev = await h.fx.space(acme, 'dev');
      const prod = await h.fx.space(acme, 'prod');
      const domain = await h.fx.domain('apps.example.com');
      const doomed = await fullApp(dev, 'web', domain);
      const kept = await fullApp(prod, 'api', domain);
      await h.workloads.addDestinations(doomed.route.guid, [h.fx.destinationValue(doomed.route, kept.app)]);
      const { deleted } = await h.platform.deleteSpace(dev.guid);
      assert.equal(deleted, true);
      await gone(doomed, true);
      assert.equal((await h.workloads.listRoutes(q(), {}, ALL)).total, 1);
      assert.deepEqual(await h.workloads.destinationsOf(kept.route.guid), [
        (await h.workloads.destinationsOf(kept.route.guid))[0]!,
      ]);
      assert.equal((await h.workloads.routingTable()).length, 1);
      assert.ok(await h.workloads.getDomain(domain.guid), 'a shared domain stays');
    });

    it('deleting an org takes its private domains and everything in its spaces', async () => {
      const acme = await h.fx.org('acme');
      const dev = await h.fx.space(acme, 'dev');
      const own = await h.fx.domain('acme.example.com', acme);
      const shared = await h.fx.domain('apps.example.com');
      const made = await fullApp(dev, 'web', own);
      await h.fx.route(dev, shared, 'web');
      await h.platform.deleteOrg(acme.guid);
      await gone(made, true);
      assert.equal(await h.workloads.getDomain(own.guid), undefined);
      assert.ok(await h.workloads.getDomain(shared.guid));
      assert.deepEqual(await h.workloads.routingTable(), []);
    });
  });
}
