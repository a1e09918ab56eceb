import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStore, ensureDefaultStack } from '../src/index.js';
import { podmanEnv, run, slipway, slipwayOk, tempDir } from './helpers.js';

/**
 * Stacks made from Debian's packages with real mmdebstrap against Debian's mirror.
 * One stack (`default`) is made once for the whole file and reused; its layers are
 * kept in the stack cache (/var/cache/slipway/stacks), so a rerun bootstraps nothing
 * unless the mirror changed. `stack update --build-packages file` bootstraps one more
 * build image (also cached for the next run).
 */

interface ImageReport {
  digest: string;
  layerSize: number;
  packages: number;
  cached: boolean;
}
interface Change {
  name: string;
  from?: string;
  to?: string;
}
interface Diff {
  added: Change[];
  removed: Change[];
  changed: Change[];
}
interface StackReport {
  name: string;
  version: string;
  newVersion: boolean;
  previous?: string;
  run: ImageReport;
  build: ImageReport;
  changes: { run: Diff; build: Diff };
}
interface Inspected {
  name: string;
  stackId: string;
  latest: string;
  versions: { version: string; run: { digest: string }; build: { digest: string } }[];
  changes: { from: string; to: string; run: Diff; build: Diff }[];
  packages: { run: Record<string, string>; build: Record<string, string> };
}
interface ImageInfo {
  digest: string;
  platform: { os: string; architecture: string };
  config: { User?: string; Env?: string[]; Labels?: Record<string, string> };
  annotations?: Record<string, string>;
}

const names = (d: Diff, kind: keyof Diff) => d[kind].map((c) => c.name);

describe('stack create/update/inspect/rm from Debian packages (real mmdebstrap)', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let created: StackReport;
  const cleanups: (() => Promise<void>)[] = [];
  const json = async <T>(...args: string[]) => JSON.parse(await slipwayOk(home, ['--json', ...args])) as T;

  before(async () => {
    work = await tempDir('stack');
    home = join(work.path, 'home');
    created = await json<StackReport>('stack', 'create', 'default');
  });
  after(async () => {
    for (const c of cleanups) await c();
    await work.cleanup();
  });

  test('create makes version 1 of both images, tagged NAME/run and NAME/build, latest on both', async () => {
    assert.equal(created.version, '1');
    assert.equal(created.newVersion, true);
    for (const role of ['run', 'build'] as const) {
      const v1 = await json<ImageInfo>('inspect', `default/${role}:1`);
      const latest = await json<ImageInfo>('inspect', `default/${role}:latest`);
      assert.equal(v1.digest, created[role].digest);
      assert.equal(latest.digest, v1.digest);
    }
  });

  test('both images carry the CNB base image metadata, the same stack id and user, and their package record', async () => {
    const run = await json<ImageInfo>('inspect', 'default/run:1');
    const build = await json<ImageInfo>('inspect', 'default/build:1');
    const host = process.arch === 'x64' ? 'amd64' : process.arch;
    for (const image of [run, build]) {
      const labels = image.config.Labels ?? {};
      assert.equal(labels['io.buildpacks.stack.id'], 'io.slipway.stacks.default');
      assert.equal(labels['io.buildpacks.base.distro.name'], 'debian');
      assert.match(labels['io.buildpacks.base.distro.version'] ?? '', /^12$/);
      assert.equal(image.config.User, '1000:1000');
      assert.ok(image.config.Env?.includes('CNB_USER_ID=1000') && image.config.Env.includes('CNB_GROUP_ID=1000'));
      assert.deepEqual(image.platform, { os: 'linux', architecture: host });
      assert.match(image.annotations?.['org.opencontainers.image.created'] ?? '', /^\d{4}-\d\d-\d\dT/);
      assert.match(image.annotations?.['org.opencontainers.image.title'] ?? '', /^default\/(run|build)$/);
    }
    assert.equal(run.config.Labels?.['io.buildpacks.rebasable'], 'true');
    assert.ok(build.config.Env?.includes('CNB_STACK_ID=io.slipway.stacks.default'));

    const runPkgs = JSON.parse(run.config.Labels?.['io.slipway.stack.packages'] ?? '{}') as Record<string, string>;
    const buildPkgs = JSON.parse(build.config.Labels?.['io.slipway.stack.packages'] ?? '{}') as Record<string, string>;
    for (const p of ['ca-certificates', 'tzdata', 'libc6', 'passwd']) assert.ok(runPkgs[p], `run image records ${p}`);
    for (const p of ['gcc', 'build-essential', 'git', 'curl', 'jq'])
      assert.ok(buildPkgs[p], `build image records ${p}`);
    assert.equal(runPkgs['gcc'], undefined, 'no compiler in the run image');
    for (const [p, v] of Object.entries(runPkgs))
      assert.equal(buildPkgs[p], v, `build image has run package ${p} at the same version`);
    assert.equal(Object.keys(runPkgs).length, created.run.packages);
  });

  test('the run image is at least 3x smaller than the build image (compressed layers)', () => {
    assert.ok(created.run.layerSize > 1_000_000, `run image has a real rootfs (${created.run.layerSize} B)`);
    assert.ok(
      created.build.layerSize >= 3 * created.run.layerSize,
      `build ${created.build.layerSize} B vs run ${created.run.layerSize} B`,
    );
  });

  test('the run image runs under runc (slipway run): Debian 12, as the stack user', async () => {
    const out = await slipwayOk(home, [
      '--quiet',
      'run',
      '--rm',
      'default/run:1',
      '--',
      'sh',
      '-c',
      'cat /etc/os-release; id; test -w "$HOME" && echo home-writable',
    ]);
    assert.match(out, /^ID=debian$/m);
    assert.match(out, /^VERSION_ID="12"$/m);
    assert.match(out, /uid=1000\(cnb\) gid=1000\(cnb\)/);
    assert.match(out, /home-writable/);
  });

  test('the build image compiles and runs C with gcc, as the stack user', async () => {
    const program =
      'printf "#include <stdio.h>\\nint main(void){puts(\\"compiled by $(id -un)\\");return 0;}\\n" > /tmp/h.c && gcc -o /tmp/h /tmp/h.c && /tmp/h';
    const out = await slipwayOk(home, ['--quiet', 'run', '--rm', 'default/build:1', '--', 'sh', '-c', program]);
    assert.match(out, /compiled by cnb/);
  });

  test('the run image runs under podman from an exported OCI layout', async () => {
    // podman names an image from an oci: path, and image names must be lowercase (mkdtemp's suffix is not).
    const layout = join(tmpdir(), `slipway-podman-${randomBytes(6).toString('hex')}`);
    cleanups.push(() => rm(layout, { recursive: true, force: true }));
    await slipwayOk(home, ['copy', 'default/run:1', `oci:${layout}:run`]);
    const pm = await podmanEnv(join(work.path, 'podman'));
    const out = await run(
      'podman',
      [...pm.args, 'run', '--rm', `oci:${layout}:run`, 'sh', '-c', 'id -un; . /etc/os-release; echo $ID $VERSION_ID'],
      pm.env,
    );
    assert.match(out, /^cnb$/m);
    assert.match(out, /^debian 12$/m);
  });

  test('ensureDefaultStack (what slipway build uses) gives the same images in another store, then needs no network', async () => {
    const store = await LocalStore.open(join(work.path, 'library-home'));
    const saved = process.env.SLIPWAY_DEBIAN_MIRROR;
    try {
      const first = await ensureDefaultStack(store);
      assert.deepEqual(
        [first.name, first.version, first.run, first.build],
        ['default', '1', created.run.digest, created.build.digest],
      );
      process.env.SLIPWAY_DEBIAN_MIRROR = 'http://127.0.0.1:9/debian'; // any network use would now fail
      assert.deepEqual(await ensureDefaultStack(store), first);
    } finally {
      if (saved === undefined) delete process.env.SLIPWAY_DEBIAN_MIRROR;
      else process.env.SLIPWAY_DEBIAN_MIRROR = saved;
      await store.close();
    }
  });

  test('creating the same stack again bootstraps nothing and makes no new version', async () => {
    const again = await json<StackReport>('stack', 'create', 'default');
    assert.equal(again.newVersion, false);
    assert.equal(again.version, '1');
    assert.equal(again.run.cached, true);
    assert.equal(again.build.cached, true);
    assert.equal(again.run.digest, created.run.digest);
    assert.equal(again.build.digest, created.build.digest);
  });

  test('update with no package change makes no new version', async () => {
    const updated = await json<StackReport>('stack', 'update', 'default');
    assert.equal(updated.newVersion, false);
    assert.equal(updated.version, '1');
    const text = await slipwayOk(home, ['stack', 'update', 'default']);
    assert.match(text, /unchanged at version 1: no package changed/);
    assert.deepEqual(
      (await json<Inspected>('stack', 'inspect', 'default')).versions.map((v) => v.version),
      ['1'],
    );
  });

  test('update adding a build package makes version 2; inspect shows what changed; the run image stays', async () => {
    const updated = await json<StackReport>('stack', 'update', 'default', '--build-packages', 'file');
    assert.equal(updated.newVersion, true);
    assert.equal(updated.version, '2');
    assert.ok(names(updated.changes.build, 'added').includes('file'));
    assert.ok(names(updated.changes.build, 'added').includes('libmagic1'), 'dependencies show too');
    assert.deepEqual(updated.changes.run, { added: [], removed: [], changed: [] });
    assert.equal(
      updated.run.digest,
      created.run.digest,
      'a build-only change leaves the run image (and apps on it) alone',
    );
    assert.notEqual(updated.build.digest, created.build.digest);

    const inspected = await json<Inspected>('stack', 'inspect', 'default');
    assert.equal(inspected.latest, '2');
    assert.deepEqual(
      inspected.versions.map((v) => v.version),
      ['1', '2'],
    );
    assert.equal(inspected.changes.length, 1);
    assert.equal(
      inspected.changes[0]!.build.added.find((c) => c.name === 'file')?.to,
      inspected.packages.build['file'],
    );
    const diff = await slipwayOk(home, ['stack', 'inspect', 'default', '--diff', '1,2']);
    assert.match(diff, /\+ file \S+/);
    assert.match(diff, /run image: no package changed/);
    const gotFile = await slipwayOk(home, [
      '--quiet',
      'run',
      '--rm',
      'default/build:latest',
      '--',
      'file',
      '--brief',
      '/bin/sh',
    ]);
    assert.match(gotFile, /link/);
  });

  test('removing the package again gives back the first build image, byte for byte (cached, deterministic)', async () => {
    const updated = await json<StackReport>('stack', 'update', 'default', '--remove-packages', 'file');
    assert.equal(updated.version, '3');
    assert.ok(names(updated.changes.build, 'removed').includes('file'));
    assert.equal(updated.build.digest, created.build.digest);
    assert.equal(updated.build.cached, true);
  });

  test('ls lists the stack; rm removes every version of both images', async () => {
    const listed = await json<{ name: string; latest: string }[]>('stack', 'ls');
    assert.deepEqual(
      listed.map((s) => [s.name, s.latest]),
      [['default', '3']],
    );
    await slipwayOk(home, ['stack', 'rm', 'default']);
    assert.deepEqual(await json('stack', 'ls'), []);
    const images = await json<{ name: string }[]>('images');
    assert.equal(images.filter((i) => i.name.startsWith('default/')).length, 0);
    const gone = await slipway(home, ['--json', 'stack', 'inspect', 'default']);
    assert.equal(gone.code, 1);
    assert.equal(JSON.parse(gone.stdout).error.code, 'NOT_FOUND');
  });
});

describe('stack create refuses bad input clearly and leaves nothing behind', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  before(async () => {
    work = await tempDir('stack-bad');
    home = join(work.path, 'home');
  });
  after(() => work.cleanup());

  const cases: [string, string[], string, RegExp][] = [
    ['an unknown suite', ['--debian', 'nosuchsuite'], 'SUITE_UNKNOWN', /suite "nosuchsuite" does not exist/],
    [
      'an unreachable mirror',
      ['--mirror', 'http://127.0.0.1:9/debian'],
      'MIRROR_UNREACHABLE',
      /127\.0\.0\.1:9.*--mirror/s,
    ],
    [
      'a package that does not exist',
      ['--run-packages', 'less,nosuch-package-slipway'],
      'PACKAGE_UNKNOWN',
      /"nosuch-package-slipway".*--run-packages/s,
    ],
  ];
  for (const [what, flags, code, message] of cases) {
    test(`${what}: ${code}`, async () => {
      const tmpBefore = (await readdir(tmpdir())).filter((n) => n.startsWith('slipway-stack-'));
      const r = await slipway(home, ['--json', 'stack', 'create', 'bad', ...flags]);
      assert.equal(r.code, 1);
      const error = JSON.parse(r.stdout).error as { code: string; message: string };
      assert.equal(error.code, code);
      assert.match(error.message, message);
      assert.match(r.stderr, /^slipway: error: /);
      assert.deepEqual(JSON.parse(await slipwayOk(home, ['--json', 'stack', 'ls'])), []);
      const images = JSON.parse(await slipwayOk(home, ['--json', 'images'])) as { name: string }[];
      assert.deepEqual(
        images.filter((i) => i.name.startsWith('bad/')),
        [],
      );
      const tmpAfter = (await readdir(tmpdir())).filter((n) => n.startsWith('slipway-stack-'));
      assert.deepEqual(
        tmpAfter.filter((n) => !tmpBefore.includes(n)),
        [],
        'no temporary rootfs left',
      );
    });
  }
});
