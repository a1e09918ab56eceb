import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalStore } from '../src/index.js';
import type { Progress } from '../src/progress.js';
import { StageError } from '../src/stage/cnb/stage-error.js';
import { buildApp } from '../src/stage/cnb/build-app.js';
import { readBuildpackDescriptor } from '../src/buildpack/cnb/buildpack-descriptor.js';
import { CF_LAUNCHER } from '../src/droplet/layout.js';
import { stageClassic, type StageClassicOptions } from '../src/stage/classic/stage-classic.js';
import { buildStore, runImage, scratchDirs, stageApp, writeBuildpacks } from './build-fixtures.js';
import { classicApp, classicBuildpack } from './classic-fixtures.js';
import { slipway, slipwayOk } from './helpers.js';

/**
 * Public buildpacks as their authors wrote them (issue 22's defects), each shaped like
 * the buildpack that showed the defect and run for real in the default stack.
 */
describe('buildpacks as their authors meant them: CNB leniency', () => {
  let store: LocalStore;
  let home: string;
  let cleanup: () => Promise<void>;
  let work: string;
  const { app, bps, fresh } = scratchDirs(() => work);
  const logs = (): { progress: Progress; lines: string[] } => {
    const lines: string[] = [];
    return { lines, progress: { start() {}, advance() {}, done() {}, log: (l) => lines.push(l) } };
  };

  before(async () => {
    ({ store, home, work, cleanup } = await buildStore());
  });
  after(async () => cleanup());

  test('a detect plan with a top-level version in [[requires]] (samples/ruby-bundler): warned, read as metadata.version', async () => {
    // As the CNB samples' ruby-bundler: it provides and requires "ruby" with a top-level version, and its
    // bin/build reads .entries[].metadata.version from the buildpack plan.
    const [dir] = bps([
      {
        id: 'samples/ruby-bundler',
        api: '0.11',
        detect: `cat >> "$2" <<EOL
[[provides]]
name = "ruby"

[[requires]]
name = "ruby"
version = "3.1.3"
EOL`,
        build: `echo "plan: $(tr -d ' ' < "$3" | tr '\\n' ' ')"`,
      },
    ]);
    const { progress, lines } = logs();
    const r = await stageApp(store, app(), 'compat/ruby', { buildpacks: [dir!], progress });
    assert.deepEqual(
      r.group.map((b) => b.id),
      ['samples/ruby-bundler'],
    );
    assert.match(r.output, /plan: .*\[entries\.metadata\] version="3\.1\.3"/);
    assert.ok(
      lines.some((l) => /requires "ruby" has a "version" key/.test(l)),
      `a warning says so: ${lines.join('\n')}`,
    );
  });

  test('a buildpack twice in a group (-b A -b B -b B, a composite and its member) runs once', async () => {
    const counter = fresh('count');
    mkdirSync(counter, { recursive: true });
    const [a, b] = bps([
      { id: 'test/a', build: 'echo "build of test/a"' },
      { id: 'test/b', build: 'echo "build of test/b"' },
    ]);
    const [meta] = bps([
      {
        id: 'test/meta',
        composite: true,
        toml: '[[order]]\n[[order.group]]\nid = "test/a"\nversion = "1.0.0"\n[[order.group]]\nid = "test/b"\nversion = "1.0.0"\n',
      },
    ]);
    const r = await stageApp(store, app(), 'compat/twice', { buildpacks: [a!, b!, b!] });
    assert.deepEqual(
      r.group.map((g) => g.id),
      ['test/a', 'test/b'],
    );
    assert.equal(r.output.match(/build of test\/b/g)?.length, 1, r.output);
    const m = await stageApp(store, app(), 'compat/twice-meta', {
      buildpacks: [meta!, b!],
      buildpackTrees: [join(a!, '..')],
    });
    assert.deepEqual(
      m.group.map((g) => g.id),
      ['test/a', 'test/b'],
    );
    assert.equal(m.output.match(/build of test\/b/g)?.length, 1, m.output);
  });

  test('samples/hello-moon alone fails detection (20) naming the requirement nothing provides (some-world)', async () => {
    const [moon] = bps([
      {
        id: 'samples/hello-moon',
        api: '0.11',
        detect: `cat >> "$2" <<EOL
[[requires]]
name = "some-world"

[requires.metadata]
world = "Earth-616"
EOL`,
      },
    ]);
    await assert.rejects(stageApp(store, app(), 'compat/moon', { buildpacks: [moon!] }), (err: unknown) => {
      assert.ok(err instanceof StageError, String(err));
      assert.equal(err.exitCode, 20);
      assert.match(err.message, /samples\/hello-moon requires some-world, which no buildpack before it provides/);
      return true;
    });
  });

  test("buildpack package reads package.toml's [[dependencies]] (samples/hello-universe) and refuses an order naming missing buildpacks", async () => {
    const root = fresh('universe');
    const [world, moon] = writeBuildpacks(root, [
      {
        id: 'samples/hello-world',
        version: '0.0.2',
        detect: 'printf \'[[provides]]\\nname = "some-world"\\n\' >> "$2"',
        build: 'echo "hello world ran"',
      },
      {
        id: 'samples/hello-moon',
        version: '0.0.2',
        detect: 'printf \'[[requires]]\\nname = "some-world"\\n\' >> "$2"',
        build: 'echo "hello moon ran"',
      },
    ]);
    const [universe] = writeBuildpacks(root, [
      {
        id: 'samples/hello-universe',
        version: '0.0.2',
        composite: true,
        toml: '[[order]]\n[[order.group]]\nid = "samples/hello-world"\nversion = "0.0.2"\n[[order.group]]\nid = "samples/hello-moon"\nversion = "0.0.2"\n',
      },
    ]);
    const config = join(universe!, 'package.toml');
    writeFileSync(
      config,
      `[buildpack]\nuri = "."\n\n[[dependencies]]\nuri = "../${moon!.split('/').pop()}"\n\n[[dependencies]]\nuri = "../${world!.split('/').pop()}"\n`,
    );
    const out = await slipwayOk(home, ['--json', 'buildpack', 'package', 'bp/universe:1', '--config', config]);
    const report = JSON.parse(out) as { buildpacks: { id: string }[] };
    assert.deepEqual(
      report.buildpacks.map((b) => b.id),
      ['samples/hello-moon', 'samples/hello-world', 'samples/hello-universe'],
    );
    const r = await buildApp(store, { image: 'compat/universe', path: app(), buildpacks: ['bp/universe:1'] });
    assert.deepEqual(
      r.group.map((g) => g.id),
      ['samples/hello-world', 'samples/hello-moon'],
    );
    // As pack refuses them: the composite alone, a dependency left out, a dependency nothing names.
    const alone = await slipway(home, ['buildpack', 'package', 'bp/alone:1', '--path', universe!]);
    assert.notEqual(alone.code, 0);
    assert.match(alone.stderr, /references buildpack samples\/hello-world@0\.0\.2 which is not present/);
    writeFileSync(config, `[buildpack]\nuri = "."\n\n[[dependencies]]\nuri = "../${world!.split('/').pop()}"\n`);
    const partial = await slipway(home, ['buildpack', 'package', 'bp/partial:1', '--config', config]);
    assert.match(partial.stderr, /references buildpack samples\/hello-moon@0\.0\.2 which is not present/);
    const [extra] = writeBuildpacks(root, [{ id: 'test/unused' }]);
    writeFileSync(
      config,
      `[buildpack]\nuri = "."\n${[moon, world, extra].map((d) => `[[dependencies]]\nuri = "../${d!.split('/').pop()}"\n`).join('')}`,
    );
    const unused = await slipway(home, ['buildpack', 'package', 'bp/unused:1', '--config', config]);
    assert.match(unused.stderr, /buildpack test\/unused@1\.0\.0 is not used by buildpack samples\/hello-universe/);
  });

  test('-b some/dir (relative, no ./) is a directory when there is one, as pack looks on the filesystem first', async () => {
    const [dir] = bps([{ id: 'test/relative', build: 'echo "relative buildpack ran"' }]);
    const root = join(dir!, '..');
    const cwd = process.cwd();
    process.chdir(join(root, '..'));
    try {
      const relative = `${root.split('/').pop()}/test_relative`;
      let output = '';
      const r = await buildApp(store, {
        image: 'compat/relative',
        path: app(),
        buildpacks: [relative],
        output: (t) => (output += t),
      });
      assert.deepEqual(
        r.group.map((g) => g.id),
        ['test/relative'],
      );
      assert.match(output, /relative buildpack ran/);
      // An id that is no directory here is still an id.
      await assert.rejects(
        buildApp(store, { image: 'compat/relative', path: app(), buildpacks: ['nowhere/such-dir'] }),
        /buildpack nowhere\/such-dir is not available/,
      );
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('buildpacks as their authors meant them: Heroku and CF classic buildpacks', () => {
  let store: LocalStore;
  let home: string;
  let cleanup: () => Promise<void>;
  let work: string;
  let n = 0;
  const fresh = (name: string) => join(work, `${name}-${n++}`);
  let output = '';
  const stage = (options: Omit<StageClassicOptions, 'output'>) => {
    output = '';
    return stageClassic(store, { ...options, output: (t) => (output += t) });
  };

  before(async () => {
    ({ store, home, work, cleanup } = await buildStore());
  });
  after(async () => cleanup());

  /** A buildpack shaped like heroku-buildpack-apt: bin/compile, detect, release and Heroku's registry buildpack.toml. */
  const herokuBuildpack = (name: string, scripts: Parameters<typeof classicBuildpack>[2]) => {
    const dir = classicBuildpack(fresh('heroku'), name, scripts);
    writeFileSync(
      join(dir, 'buildpack.toml'),
      `[buildpack]\nname = "${name}"\n\n[publish.Ignore]\nfiles = [\n  ".github/",\n  "test/",\n  ".gitignore",\n  "Makefile",\n]\n`,
    );
    return dir;
  };

  test("Heroku's registry buildpack.toml (no api, no id) next to bin/compile is a classic buildpack, no --classic needed", async () => {
    const bp = herokuBuildpack('Apt', {
      detect: 'echo Apt',
      compile: 'echo "-----> Apt compile"; echo apt-ran > "$1/apt.txt"',
      release: 'echo "--- {default_process_types: {web: cat apt.txt}}"',
    });
    await assert.rejects(readBuildpackDescriptor(bp), /Cloud Foundry \/ Heroku buildpack.*--classic/);
    const app = classicApp(fresh('app'));
    const out = await slipwayOk(home, ['--json', 'build', 'compat/apt', '-p', app, '-b', bp]);
    const report = JSON.parse(out) as { buildpacks: { name: string }[]; detectedBuildpack: string };
    assert.deepEqual(
      report.buildpacks.map((b) => b.name),
      ['Apt'],
    );
    const r = await runImage(store, 'compat/apt');
    assert.match(r.output, /^apt-ran$/m);
  });

  test("Heroku-style chaining: compile-only buildpacks from the app's .buildpacks each compile, seeing the export of those before", async () => {
    // As heroku-buildpack-apt's README combines it: apt first, writing $BP_DIR/export, then the language's buildpack.
    const apt = herokuBuildpack('Apt', {
      compile: [
        'echo "-----> apt compile: $# arguments, env dir $3 has $(ls "$3")"',
        'mkdir -p "$1/.apt/usr/bin" && printf "#!/bin/sh\\necho tool-from-apt\\n" > "$1/.apt/usr/bin/apt-tool" && chmod +x "$1/.apt/usr/bin/apt-tool"',
        'BP_DIR=$(cd "$(dirname "$0")/.." && pwd)',
        'echo "export PATH=\\"$1/.apt/usr/bin:\\$PATH\\"" > "$BP_DIR/export"',
        'mkdir -p "$1/.profile.d" && echo "export PATH=\\"\\$HOME/.apt/usr/bin:\\$PATH\\"" > "$1/.profile.d/000_apt.sh"',
      ].join('\n'),
      release: 'echo "--- {default_process_types: {web: echo from-apt, apt: apt-tool}}"',
    });
    const lang = classicBuildpack(fresh('heroku'), 'lang', {
      compile: 'echo "-----> lang compile sees $(apt-tool)"; echo "$(apt-tool) at build" > "$1/built.txt"',
      release: 'echo "--- {default_process_types: {web: cat built.txt}}"',
    });
    const app = classicApp(fresh('app'), { '.buildpacks': `${apt}\n${lang}\n` });
    const r = await slipway(home, ['build', 'compat/chain', '-p', app, '-e', 'FROM_ENV=1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /apt compile: 3 arguments, env dir \/tmp\/env has FROM_ENV/);
    assert.match(r.stderr, /lang compile sees tool-from-apt/);
    assert.match(r.stdout, /processes: apt: apt-tool; web: cat built.txt/, 'a later release wins');
    const run = await runImage(store, 'compat/chain');
    assert.match(run.output, /^tool-from-apt at build$/m);
    const tool = await runImage(store, 'compat/chain', { processType: 'apt' });
    assert.match(tool.output, /^tool-from-apt$/m);
  });

  /** A supply buildpack (it names itself in config.yml) and what it saw of the stack. */
  const supplier = (bps: string) =>
    classicBuildpack(bps, 'supply', {
      supply:
        'echo "supply sees CF_STACK=$CF_STACK STACK=$STACK"; printf "name: supplier\\nversion: 2\\n" > "$3/$4/config.yml"',
    });
  const stageOk = (options: Omit<StageClassicOptions, 'output'>) =>
    stage(options).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${output}`);
    });

  test("CF's final bin/compile after a supply gets two arguments (BUILD CACHE), as CF passes them", async () => {
    const bps = fresh('cf');
    // A legacy buildpack that records its compile time in an optional third directory, which it was given once.
    const legacy = classicBuildpack(bps, 'legacy', {
      compile:
        'echo "legacy compile: $# arguments"; if [ -n "${3-}" ]; then date > "$3/compiled-at"; fi; echo page > "$1/index.txt"',
      release: 'echo "--- {default_process_types: {web: cat index.txt}}"',
    });
    await stageOk({ path: classicApp(fresh('app')), image: 'compat/cf-args', buildpacks: [supplier(bps), legacy] });
    assert.match(output, /legacy compile: 2 arguments/);
    const r = await runImage(store, 'compat/cf-args');
    assert.match(r.output, /^page$/m);
  });

  test('-e CF_STACK=cflinuxfs4 reaches the buildpacks (the stack name does not overwrite it)', async () => {
    const bps = fresh('cf');
    const final = classicBuildpack(bps, 'final', { finalize: 'echo "finalize sees CF_STACK=$CF_STACK"' });
    await stageOk({
      path: classicApp(fresh('app')),
      image: 'compat/cf-stack',
      buildpacks: [supplier(bps), final],
      env: ['CF_STACK=cflinuxfs4'],
    });
    assert.match(output, /supply sees CF_STACK=cflinuxfs4 STACK=default/);
    assert.match(output, /finalize sees CF_STACK=cflinuxfs4/);
  });

  test("staging_info.yml's detected_buildpack is the name config.yml gives, or '' (never a path)", async () => {
    const bps = fresh('cf');
    const plain = classicBuildpack(bps, 'plain', { finalize: 'true' });
    const named = classicBuildpack(bps, 'named', {
      finalize: 'printf "name: named_buildpack\\nversion: 1.0\\n" > "$3/$4/config.yml"',
    });
    const app = classicApp(fresh('app'));
    const r1 = await stageOk({ path: app, image: 'compat/cf-info', buildpacks: [supplier(bps), plain] });
    assert.equal(r1.detectedBuildpack, '');
    const info = await runImage(store, 'compat/cf-info', {
      entrypoint: '/bin/cat',
      args: ['/home/vcap/staging_info.yml'],
    });
    assert.equal(JSON.parse(info.output).detected_buildpack, '');
    const r2 = await stageOk({ path: app, image: 'compat/cf-named', buildpacks: [supplier(bps), named] });
    assert.equal(r2.detectedBuildpack, 'named_buildpack');
  });

  test('LANG names a locale the stack has: perl warns neither in staging nor at the start of the app', async () => {
    const bp = classicBuildpack(fresh('cf'), 'perl', {
      compile: 'echo "staging LANG=$LANG perl: $(perl -e 1 2>&1 | head -1)"',
      release: 'echo "--- {default_process_types: {web: perl -e \'print qq(perl ran\\n)\'}}"',
    });
    await stageOk({ path: classicApp(fresh('app')), image: 'compat/lang', buildpacks: [bp] });
    assert.match(output, /staging LANG=C\.UTF-8 perl: $/m);
    // Through the CF launcher, as the app starts.
    const r = await runImage(store, 'compat/lang', { args: [CF_LAUNCHER, 'perl -e 1; echo "LANG=$LANG"'] });
    assert.doesNotMatch(r.output, /Setting locale failed/);
    assert.match(r.output, /^LANG=C\.UTF-8$/m);
    // An image that has en_US.UTF-8 (cflinuxfs4 generates it) gets CF's LANG.
    const locale = fresh('en_US.utf8');
    mkdirSync(locale, { recursive: true });
    const cf = await runImage(store, 'compat/lang', {
      binds: [{ source: locale, destination: '/usr/lib/locale/en_US.utf8', readonly: true }],
      args: [CF_LAUNCHER, 'echo "LANG=$LANG"'],
    });
    assert.match(cf.output, /^LANG=en_US\.UTF-8$/m);
    const web = await runImage(store, 'compat/lang');
    assert.match(web.output, /perl ran/);
    assert.doesNotMatch(web.output, /locale/i, 'perl printed no locale warning');
  });

  test('restaging the same app: the unchanged classic layers are reported reused, not new', async () => {
    const bps = fresh('cf');
    const final = classicBuildpack(bps, 'final', { finalize: 'echo page > "$1/index.txt"' });
    const app = classicApp(fresh('app'));
    const first = await stageOk({ path: app, image: 'compat/reuse', buildpacks: [supplier(bps), final] });
    assert.ok(first.layers.every((l) => !l.reused));
    const again = await stageOk({ path: app, image: 'compat/reuse', buildpacks: [supplier(bps), final] });
    assert.equal(again.digest, first.digest);
    assert.deepEqual(
      again.layers.filter((l) => !l.reused).map((l) => l.name),
      [],
    );
  });
});
