import { type App, emptyMetadata, newGuid, type Organization, type Space } from '../model.js';
import type {
  Build,
  Deployment,
  Domain,
  Droplet,
  Instance,
  Package,
  Process,
  Revision,
  Route,
  RouteDestination,
} from '../workload.js';
import { Fixture } from './platform-store-fixture.js';
import type { PlatformStore } from './platform-store.js';
import type { WorkloadStore } from './workload-store.js';

/**
 * What the WorkloadStore contract tests (workload-store-contract*.ts) build with:
 * the PlatformStore fixture (users, orgs, spaces, apps, roles) and the workload's
 * resources made through the store under test, every one with a creation time after
 * the one before.
 */
export class WorkloadFixture extends Fixture {
  readonly workloads: WorkloadStore;

  constructor(platform: PlatformStore, workloads: WorkloadStore) {
    super(platform);
    this.workloads = workloads;
  }

  #stamp(): { createdAt: string; updatedAt: string } {
    const t = this.time();
    return { createdAt: t, updatedAt: t };
  }

  packageValue(app: App, extra: Partial<Package> = {}): Package {
    return {
      guid: newGuid(),
      appGuid: app.guid,
      type: 'bits',
      state: 'AWAITING_UPLOAD',
      metadata: emptyMetadata(),
      ...this.#stamp(),
      ...extra,
    };
  }

  async package(app: App, extra: Partial<Package> = {}): Promise<Package> {
    return this.workloads.createPackage(this.packageValue(app, extra));
  }

  buildValue(pkg: Package, extra: Partial<Build> = {}): Build {
    return {
      guid: newGuid(),
      appGuid: pkg.appGuid,
      packageGuid: pkg.guid,
      state: 'STAGING',
      error: null,
      lifecycle: { type: 'buildpack', data: { buildpacks: [], stack: 'cflinuxfs4' } },
      stagingMemoryMb: 1024,
      stagingDiskMb: 1024,
      metadata: emptyMetadata(),
      ...this.#stamp(),
      ...extra,
    };
  }

  async build(pkg: Package, extra: Partial<Build> = {}): Promise<Build> {
    return this.workloads.createBuild(this.buildValue(pkg, extra));
  }

  dropletValue(app: App, extra: Partial<Droplet> = {}): Droplet {
    return {
      guid: newGuid(),
      appGuid: app.guid,
      state: 'STAGED',
      digest: `sha256:${'a'.repeat(64)}`,
      processTypes: { web: 'node server.js' },
      buildpacks: [{ name: 'nodejs', buildpackName: 'nodejs', detectOutput: 'nodejs', version: '1.0.0' }],
      stack: 'cflinuxfs4',
      stackVersion: '1.0.0',
      executionMetadata: '',
      metadata: emptyMetadata(),
      ...this.#stamp(),
      ...extra,
    };
  }

  /** A STAGED droplet unless told. */
  async droplet(app: App, extra: Partial<Droplet> = {}): Promise<Droplet> {
    return this.workloads.createDroplet(this.dropletValue(app, extra));
  }

  processValue(app: App, type = 'web', extra: Partial<Process> = {}): Process {
    return {
      guid: newGuid(),
      appGuid: app.guid,
      type,
      command: null,
      instances: 1,
      memoryMb: 256,
      diskMb: 1024,
      healthCheck: { type: type === 'web' ? 'port' : 'process' },
      metadata: emptyMetadata(),
      ...this.#stamp(),
      ...extra,
    };
  }

  async process(app: App, type = 'web', extra: Partial<Process> = {}): Promise<Process> {
    return this.workloads.upsertProcess(this.processValue(app, type, extra));
  }

  instanceValue(process: Process, droplet: Droplet, index: number, extra: Partial<Instance> = {}): Instance {
    return {
      guid: newGuid(),
      appGuid: process.appGuid,
      processGuid: process.guid,
      processType: process.type,
      index,
      dropletGuid: droplet.guid,
      host: 'host-a',
      containerName: `slipway-${process.guid}-${index}`,
      port: 61000 + index,
      state: 'RUNNING',
      since: this.time(),
      crashCount: 0,
      ...extra,
    };
  }

  async instance(process: Process, droplet: Droplet, index: number, extra: Partial<Instance> = {}): Promise<Instance> {
    const instance = this.instanceValue(process, droplet, index, extra);
    await this.workloads.putInstance(instance);
    return instance;
  }

  domainValue(name: string, extra: Partial<Domain> = {}): Domain {
    return { guid: newGuid(), name, internal: false, metadata: emptyMetadata(), ...this.#stamp(), ...extra };
  }

  /** A shared domain, or a private one of `org`. */
  async domain(name: string, org?: Organization): Promise<Domain> {
    return this.workloads.createDomain(this.domainValue(name, org ? { orgGuid: org.guid } : {}));
  }

  routeValue(space: Space, domain: Domain, host: string, path = '', extra: Partial<Route> = {}): Route {
    return {
      guid: newGuid(),
      host,
      path,
      domainGuid: domain.guid,
      spaceGuid: space.guid,
      metadata: emptyMetadata(),
      ...this.#stamp(),
      ...extra,
    };
  }

  async route(space: Space, domain: Domain, host: string, path = ''): Promise<Route> {
    return this.workloads.createRoute(this.routeValue(space, domain, host, path));
  }

  destinationValue(route: Route, app: App, extra: Partial<RouteDestination> = {}): RouteDestination {
    return {
      guid: newGuid(),
      routeGuid: route.guid,
      appGuid: app.guid,
      processType: 'web',
      port: null,
      protocol: 'http1',
      ...extra,
    };
  }

  deploymentValue(app: App, droplet: Droplet, extra: Partial<Deployment> = {}): Deployment {
    const stamp = this.#stamp();
    return {
      guid: newGuid(),
      appGuid: app.guid,
      strategy: 'rolling',
      statusValue: 'ACTIVE',
      statusReason: 'DEPLOYING',
      dropletGuid: droplet.guid,
      maxInFlight: 1,
      lastStatusChange: stamp.createdAt,
      metadata: emptyMetadata(),
      ...stamp,
      ...extra,
    };
  }

  async deployment(app: App, droplet: Droplet, extra: Partial<Deployment> = {}): Promise<Deployment> {
    return this.workloads.createDeployment(this.deploymentValue(app, droplet, extra));
  }

  revisionValue(app: App, droplet: Droplet, extra: Partial<Revision> = {}): Omit<Revision, 'version'> {
    return {
      guid: newGuid(),
      appGuid: app.guid,
      dropletGuid: droplet.guid,
      description: 'Initial revision.',
      processes: { web: null },
      environmentVariables: {},
      deployable: true,
      metadata: emptyMetadata(),
      ...this.#stamp(),
      ...extra,
    };
  }

  async revision(app: App, droplet: Droplet, extra: Partial<Revision> = {}): Promise<Revision> {
    return this.workloads.createRevision(this.revisionValue(app, droplet, extra));
  }

  /** An org, a space and an app in it: what most workload tests start from. */
  async world(name = 'acme'): Promise<{ org: Organization; space: Space; app: App }> {
    const org = await this.org(name);
    const space = await this.space(org, 'dev');
    const app = await this.app(space, 'web');
    return { org, space, app };
  }
}

/** What each workload contract test reaches: the stores it got from `open` and a fixture on them. */
export interface WorkloadHarness {
  readonly platform: PlatformStore;
  readonly workloads: WorkloadStore;
  readonly fx: WorkloadFixture;
}

/** A sha1 made of one repeated hex digit (and a tail), for resource matching tests. */
export function sha1Of(seed: number): string {
  return seed.toString(16).padStart(40, '0');
}
