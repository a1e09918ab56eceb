import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { stageFullFs } from '../src/stage/classic/full-fs-stage.js';
import { excludedBy } from '../src/stage/classic/full-fs-excludes.js';
import type { LocalStore } from '../src/index.js';
import { buildStore, imageConfig, runImage } from './build-fixtures.js';
import { classicApp, classicBuildpack } from './classic-fixtures.js';
import { ROOT, slipway, slipwayOk, tempDir } from './helpers.js';
import { writeFileSync } from 'node:fs';

describe('full-filesystem staging as root', () => {
  let store: LocalStore;
  let home: string;
  let cleanup: () => Promise<void>;
  let work: { path: string; cleanup: () => Promise<void> };
  before(async () => {
    ({ store, home, cleanup } = await buildStore());
    work = await tempDir('slipway-fullfs');
  });
  after(async () => {
    await work.cleanup();
    await cleanup();
  });

  it('excludes match a path and what is below it', () => {
    const ex = excludedBy(['tmp', '/var/log/', 'opt/keep/*']);
    assert.equal(ex('tmp'), true);
    assert.equal(ex('tmp/a/b'), true);
    assert.equal(ex('tmpfile'), false);
    assert.equal(ex('var/log/dpkg.log'), true);
    assert.equal(ex('opt/keep'), false);
    assert.equal(ex('opt/keep/x'), true);
  });

  it('the delta holds exactly what the build changed, deletions as whiteouts, caches and /tmp left out; the image runs', async () => {
    const bp = classicBuildpack(join(work.path, 'bps'), 'root-bp', {
      compile: [
        'test "$(id -u)" = 0',
        'printf "#!/bin/sh\\necho tool installed as root\\n" > /usr/local/bin/tool && chmod 755 /usr/local/bin/tool',
        'rm /etc/issue',
        'echo junk > /tmp/junk && mkdir -p /var/log/bp && echo log > /var/log/bp/x.log',
        'mkdir -p /var/cache/apt/archives /var/lib/apt/lists /opt/bp/skip && echo deb > /var/cache/apt/archives/x.deb && echo list > /var/lib/apt/lists/x',
        'echo skipped > /opt/bp/skip/file && echo kept > /opt/bp/kept',
        'echo built > "$1/built.txt"',
      ].join('\n'),
    });
    writeFileSync(join(bp, 'manifest.yml'), 'full_filesystem:\n  excludes: [opt/bp/skip]\n');
    const app = classicApp(join(work.path, 'app'), {
      Procfile: 'web: tool; cat built.txt; test -e /etc/issue || echo no-issue; id -u\n',
    });
    const report = await stageFullFs(store, { path: app, image: 'apps/fullfs', buildpack: bp });
    const paths = report.paths;
    for (const p of [
      'usr/local/bin/tool',
      'etc/.wh.issue',
      'home/vcap/app/built.txt',
      'home/vcap/app/hello.sh',
      'opt/bp/kept',
    ])
      assert.ok(paths.includes(p), `${p} in ${paths.join(' ')}`);
    for (const p of paths) {
      assert.ok(
        !/^(tmp|var\/log|var\/cache\/apt|var\/lib\/apt\/lists|opt\/bp\/skip)(\/|$)/.test(p),
        `${p} should be excluded`,
      );
    }
    assert.ok(!paths.includes('etc/resolv.conf') && !paths.includes('etc/hosts'));
    const config = await imageConfig(store, 'apps/fullfs');
    assert.equal(config.config?.Labels?.['io.buildpacks.rebasable'], 'false');
    const r = await runImage(store, 'apps/fullfs');
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /tool installed as root\nbuilt\nno-issue\n1000/);
    const rebase = await slipway(home, ['rebase', 'apps/fullfs']);
    assert.notEqual(rebase.code, 0);
    assert.match(rebase.stderr, /io\.buildpacks\.rebasable=false/);
  });

  it('examples/fullfs-gmp: apt-get install libgmp-dev as root, compile, purge the compiler; the image prints a libgmp result', async () => {
    const example = join(ROOT, 'examples/fullfs-gmp');
    const out = await slipwayOk(home, ['--json', 'build', 'apps/gmp', '-p', example, '-b', join(example, 'buildpack')]);
    const report = JSON.parse(out) as { paths: string[] };
    assert.ok(report.paths.includes('home/vcap/app/gmp-demo'));
    assert.ok(report.paths.includes('var/lib/dpkg/status'));
    assert.ok(
      !report.paths.some(
        (p) => p.startsWith('usr/bin/gcc') || p.startsWith('var/lib/apt/lists/') || p.startsWith('var/cache/apt/'),
      ),
      'the compiler was purged, apt caches excluded',
    );
    const r = await runImage(store, 'apps/gmp');
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /2\^200 = 1606938044258990275541962092341162602522202993782792835301376/);
  });
});
