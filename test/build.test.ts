import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalStore } from '../src/index.js';
import { StageError } from '../src/stage/cnb/stage-error.js';
import { buildStore, imageConfig, runImage, scratchDirs, stageApp, writeBuildpacks } from './build-fixtures.js';

/**
 * The buildpack contract (buildpack.md, API 0.7-0.12) and the exported image
 * (lifecycle's exporter), each point pinned with small shell buildpacks written here,
 * run for real in the default stack's build image with runc.
 */
describe('slipway build: the CNB buildpack contract', () => {
  let store: LocalStore;
  let cleanup: () => Promise<void>;
  let work: string;
  const { app, bps, fresh } = scratchDirs(() => work);

  before(async () => {
    ({ store, work, cleanup } = await buildStore());
  });
  after(async () => cleanup());

  test('a launch layer, env.launch, processes: the image runs through /cnb/process/TYPE and the launcher', async () => {
    const dirs = bps([
      {
        id: 'test/hello',
        build: `
        echo "build as $(id -u):$(id -g) in $(pwd) with $1 $2 $3"
        mkdir -p "$CNB_LAYERS_DIR/tools/bin" "$CNB_LAYERS_DIR/tools/env.launch/web"
        printf '#!/bin/sh\\necho "hello $GREETING $WHO $*"\\n' > "$CNB_LAYERS_DIR/tools/bin/hi"; chmod +x "$CNB_LAYERS_DIR/tools/bin/hi"
        printf world > "$CNB_LAYERS_DIR/tools/env.launch/GREETING.default"
        printf web-only > "$CNB_LAYERS_DIR/tools/env.launch/web/WHO"
        printf '[types]\\nlaunch = true\\n[metadata]\\nversion = "1"\\n' > "$CNB_LAYERS_DIR/tools.toml"
        cat > "$CNB_LAYERS_DIR/launch.toml" <<T
[[processes]]
type = "web"
command = ["hi"]
args = ["default-arg"]
default = true
[[processes]]
type = "pwd"
command = ["pwd"]
working-dir = "/layers"
[[labels]]
key = "org.example.built-by"
value = "test/hello"
T`,
      },
    ]);
    const r = await stageApp(store, app(), 'contract/hello', { buildpacks: dirs });
    assert.match(
      r.output,
      /build as 1000:1000 in \/workspace with \/layers\/test_hello \/platform \/slipway\/bpplan\/test_hello\/plan.toml/,
    );
    assert.deepEqual(
      r.processes.map((p) => [p.type, p.default]),
      [
        ['web', true],
        ['pwd', false],
      ],
    );
    assert.equal((await runImage(store, 'contract/hello')).output, 'hello world web-only default-arg\n');
    assert.equal(
      (await runImage(store, 'contract/hello', { args: ['x', 'y'], entrypoint: '/cnb/process/web' })).output,
      'hello world web-only x y\n',
      'user args replace the default args',
    );
    assert.equal((await runImage(store, 'contract/hello', { processType: 'pwd' })).output, '/layers\n');
    assert.equal(
      (await runImage(store, 'contract/hello', { args: ['sh', '-c', 'echo $GREETING-${WHO:-none}-$CNB_APP_DIR'] }))
        .output,
      'world-none-\n',
      '-- CMD runs directly with the launch env',
    );

    const config = await imageConfig(store, 'contract/hello');
    assert.deepEqual(config.config?.Entrypoint, ['/cnb/process/web']);
    assert.equal(config.config?.WorkingDir, '/workspace');
    assert.equal(config.config?.User, '1000:1000');
    assert.equal(config.created, '1980-01-01T00:00:01Z');
    assert.ok(config.config?.Env?.some((e) => e.startsWith('PATH=/cnb/process:/cnb/lifecycle:')));
    assert.ok(config.config?.Env?.includes('CNB_PLATFORM_API=0.12'));
    const labels = config.config?.Labels ?? {};
    assert.equal(labels['org.example.built-by'], 'test/hello');
    assert.equal(labels['io.buildpacks.stack.id'] !== undefined, true, 'run image labels are kept');
    const meta = JSON.parse(labels['io.buildpacks.lifecycle.metadata']!);
    assert.deepEqual(Object.keys(meta), [
      'app',
      'buildpacks',
      'config',
      'launcher',
      'process-types',
      'runImage',
      'stack',
    ]);
    const diffIds = config.rootfs.diff_ids;
    const top = diffIds.indexOf(meta.runImage.topLayer);
    assert.ok(top >= 0);
    assert.match(meta.runImage.reference, /^default\/run@sha256:/);
    assert.deepEqual(meta.buildpacks[0].layers.tools, {
      sha: diffIds[top + 1],
      data: { version: '1' },
      build: false,
      launch: true,
      cache: false,
    });
    assert.deepEqual(meta.app, [{ sha: diffIds[top + 2] }]);
    assert.equal(meta.launcher.sha, diffIds[top + 3]);
    assert.equal(meta.config.sha, diffIds[top + 4]);
    assert.equal(meta['process-types'].sha, diffIds[top + 5]);
    assert.equal(diffIds.length, top + 6);
    const build = JSON.parse(labels['io.buildpacks.build.metadata']!);
    assert.deepEqual(build.buildpacks, [{ id: 'test/hello', version: '1.0.0', api: '0.10' }]);
    assert.deepEqual(build.processes[0], {
      type: 'web',
      command: ['hi'],
      args: ['default-arg'],
      direct: true,
      buildpackID: 'test/hello',
    });
    assert.equal(build['buildpack-default-process-type'], 'web');
    assert.equal(labels['io.buildpacks.project.metadata'], '{}');
  });

  test('detect: exit 100 fails a group, the next group wins; optional failures are dropped; the plan reaches build', async () => {
    const dirs = bps([
      { id: 'test/fails', detect: 'exit 100' },
      {
        id: 'test/provider',
        detect: 'printf "[[provides]]\\nname = \\"thing\\"\\n" >> "$CNB_BUILD_PLAN_PATH"',
        build: 'echo "provider plan:"; cat "$CNB_BP_PLAN_PATH"',
      },
      {
        id: 'test/requirer',
        detect:
          'printf "[[requires]]\\nname = \\"thing\\"\\n[requires.metadata]\\nversion = \\"2\\"\\n" >> "$CNB_BUILD_PLAN_PATH"',
        build: 'echo "requirer plan:"; cat "$CNB_BP_PLAN_PATH"',
      },
    ]);
    const builder = fresh('builder');
    mkdirSync(builder);
    for (const d of dirs) writeFileSync(join(builder, `${d.split('/').pop()}.link`), '');
    writeFileSync(
      join(builder, 'order.toml'),
      `
[[order]]
[[order.group]]
id = "test/fails"
[[order.group]]
id = "test/provider"
[[order]]
[[order.group]]
id = "test/fails"
optional = true
[[order.group]]
id = "test/provider"
[[order.group]]
id = "test/requirer"
`,
    );
    // The builder dir holds the order; the buildpacks are found in the tree next to it.
    const { cpSync } = await import('node:fs');
    for (const d of dirs) cpSync(d, join(builder, d.split('/').pop()!), { recursive: true });
    const r = await stageApp(store, app(), 'contract/plan', { builder });
    assert.deepEqual(
      r.group.map((g) => g.id),
      ['test/provider', 'test/requirer'],
    );
    assert.match(r.output, /provider plan:\n\[\[entries\]\]\nname = "thing"\n\n\[entries.metadata\]\nversion = "2"/);
  });

  test('plan resolution: an unprovided requirement fails the group (exit 20); [[or]] alternatives; a detect error is exit 21', async () => {
    const [requirer] = bps([{ id: 'test/needs', detect: 'printf "[[requires]]\\nname = \\"nobody\\"\\n" >> "$2"' }]);
    await assert.rejects(
      stageApp(store, app(), 'contract/unmet', { buildpacks: [requirer!] }),
      (err: unknown) =>
        err instanceof StageError && err.exitCode === 20 && /no buildpack group passed/.test(err.message),
    );
    const [alt] = bps([
      {
        id: 'test/or',
        detect:
          'printf "[[requires]]\\nname = \\"nobody\\"\\n[[or]]\\n[[or.provides]]\\nname = \\"x\\"\\n[[or.requires]]\\nname = \\"x\\"\\n" >> "$2"',
        build: 'cat "$3"',
      },
    ]);
    const r = await stageApp(store, app(), 'contract/or', { buildpacks: [alt!] });
    assert.match(r.output, /name = "x"/);
    const [broken] = bps([{ id: 'test/broken', detect: 'exit 3' }]);
    await assert.rejects(
      stageApp(store, app(), 'contract/broken', { buildpacks: [broken!] }),
      (err: unknown) => err instanceof StageError && err.exitCode === 21,
    );
  });

  test('composite buildpacks expand into their order; the first passing group wins', async () => {
    const root = fresh('composite');
    writeBuildpacks(root, [
      { id: 'test/a', detect: 'exit 100' },
      { id: 'test/b', build: 'echo built-by-b' },
      {
        id: 'test/meta',
        composite: true,
        toml: '[[order]]\n[[order.group]]\nid = "test/a"\n[[order]]\n[[order.group]]\nid = "test/b"\n',
      },
    ]);
    writeFileSync(join(root, 'order.toml'), '[[order]]\n[[order.group]]\nid = "test/meta"\n');
    const r = await stageApp(store, app(), 'contract/composite', { builder: root });
    assert.deepEqual(
      r.group.map((g) => g.id),
      ['test/b'],
    );
    assert.match(r.output, /built-by-b/);
  });

  test('env files: build layers reach later buildpacks with override/default/prepend/append/delim; platform env; bin/ on PATH', async () => {
    const dirs = bps([
      {
        id: 'test/env-a',
        build: `
          L="$CNB_LAYERS_DIR/tool"; mkdir -p "$L/bin" "$L/env" "$L/env.build" "$L/env.launch"
          printf '#!/bin/sh\\necho tool-ran\\n' > "$L/bin/tool"; chmod +x "$L/bin/tool"
          printf over > "$L/env/OVER.override"; printf first > "$L/env/DEF.default"; printf keep > "$L/env/USERVAR.default"
          printf a > "$L/env/LIST.append"; printf , > "$L/env/LIST.delim"
          printf pre > "$L/env.build/PRE.prepend"; printf build-only > "$L/env.build/ONLY_BUILD"
          printf launch-only > "$L/env.launch/ONLY_LAUNCH"
          printf '[types]\\nbuild = true\\nlaunch = true\\n' > "$CNB_LAYERS_DIR/tool.toml"
          echo "own: OVER=\${OVER:-unset}"`,
      },
      {
        id: 'test/env-b',
        build: `
          L="$CNB_LAYERS_DIR/more"; mkdir -p "$L/env"
          printf second > "$L/env/DEF.default"; printf b > "$L/env/LIST.append"; printf , > "$L/env/LIST.delim"
          printf '[types]\\nbuild = true\\n' > "$CNB_LAYERS_DIR/more.toml"
          echo "b: OVER=$OVER DEF=$DEF USERVAR=$USERVAR LIST=\${LIST:-} PRE=$PRE ONLY_BUILD=$ONLY_BUILD ONLY_LAUNCH=\${ONLY_LAUNCH:-unset}"; tool`,
      },
      {
        id: 'test/env-c',
        build: `
          echo "c: LIST=$LIST"
          cat > "$CNB_LAYERS_DIR/launch.toml" <<'T'
[[processes]]
type = "env"
command = ["sh", "-c", "echo $ONLY_LAUNCH $OVER \${ONLY_BUILD:-nobuild}"]
default = true
T`,
      },
    ]);
    const r = await stageApp(store, app(), 'contract/env', {
      buildpacks: dirs,
      env: ['USERVAR=from-user', 'PRE=user'],
    });
    assert.match(r.output, /own: OVER=unset/);
    // The user's value (platform env) overrides buildpack values of non-path variables, as the lifecycle does.
    assert.match(
      r.output,
      /b: OVER=over DEF=first USERVAR=from-user LIST=a PRE=user ONLY_BUILD=build-only ONLY_LAUNCH=unset\ntool-ran/,
    );
    assert.match(r.output, /c: LIST=a,b/);
    // The process runs with the launch env: env/ and env.launch/, not env.build/.
    const out = await runImage(store, 'contract/env', { entrypoint: '/cnb/process/env', args: [] });
    assert.equal(out.output, 'launch-only over nobuild\n');
  });

  test('exec.d and profile.d at launch', async () => {
    const dirs = bps([
      {
        id: 'test/execd',
        api: '0.8',
        build: `
        L="$CNB_LAYERS_DIR/hooks"; mkdir -p "$L/exec.d" "$L/profile.d"
        printf '#!/bin/sh\\necho "FROM_EXECD = \\\\"exec d value\\\\"" >&3\\n' > "$L/exec.d/10-set"; chmod +x "$L/exec.d/10-set"
        printf 'export FROM_PROFILE=profiled\\n' > "$L/profile.d/p.sh"
        printf '[types]\\nlaunch = true\\n' > "$CNB_LAYERS_DIR/hooks.toml"
        printf '[[processes]]\\ntype = "show"\\ncommand = "echo $FROM_EXECD/$FROM_PROFILE"\\ndefault = true\\n' > "$CNB_LAYERS_DIR/launch.toml"`,
      },
    ]);
    await stageApp(store, app(), 'contract/execd', { buildpacks: dirs });
    assert.equal(
      (await runImage(store, 'contract/execd')).output,
      'exec d value/profiled\n',
      'API 0.8: a string command runs in a shell with profile.d',
    );
  });

  test('a failing build is exit 51 naming the buildpack; an invalid launch.toml fails the build', async () => {
    const [failing] = bps([{ id: 'test/fail', build: 'echo about to fail; exit 7' }]);
    await assert.rejects(
      stageApp(store, app(), 'contract/fail', { buildpacks: [failing!] }),
      (err: unknown) =>
        err instanceof StageError &&
        err.exitCode === 51 &&
        /test\/fail@1.0.0 failed \(bin\/build exited with 7\)/.test(err.message),
    );
    const [invalid] = bps([
      {
        id: 'test/badlaunch',
        build:
          'printf "[[processes]]\\ntype = \\"bad type!\\"\\ncommand = [\\"x\\"]\\n" > "$CNB_LAYERS_DIR/launch.toml"',
      },
    ]);
    await assert.rejects(
      stageApp(store, app(), 'contract/badlaunch', { buildpacks: [invalid!] }),
      (err: unknown) =>
        err instanceof StageError &&
        err.exitCode === 51 &&
        /launch.toml of test\/badlaunch.*bad type!/.test(err.message),
    );
    const [notToml] = bps([
      { id: 'test/nottoml', build: 'echo "this is = = not toml" > "$CNB_LAYERS_DIR/launch.toml"' },
    ]);
    await assert.rejects(
      stageApp(store, app(), 'contract/nottoml', { buildpacks: [notToml!] }),
      /launch.toml of test\/nottoml is not valid TOML/,
    );
  });

  test('rebuild: launch metadata restored, a layer kept by metadata alone is reused from the previous image; cache layers come back; store.toml persists', async () => {
    const dirs = bps([
      {
        id: 'test/reuse',
        build: `
        L="$CNB_LAYERS_DIR"
        if grep -q 'stamp = "1"' "$L/kept.toml" 2>/dev/null; then echo "kept: reusing"; printf '[types]\\nlaunch = true\\n[metadata]\\nstamp = "1"\\n' > "$L/kept.toml";
        else echo "kept: building"; mkdir -p "$L/kept"; date +%s%N > "$L/kept/stamp"; printf '[types]\\nlaunch = true\\n[metadata]\\nstamp = "1"\\n' > "$L/kept.toml"; fi
        if [ -f "$L/cached/count" ]; then echo "cached: $(cat "$L/cached/count")"; else mkdir -p "$L/cached"; echo 0 > "$L/cached/count"; echo "cached: new"; fi
        echo $(( $(cat "$L/cached/count") + 1 )) > "$L/cached/count"
        printf '[types]\\ncache = true\\n' > "$L/cached.toml"
        [ -f "$L/store.toml" ] && echo "store: $(grep builds "$L/store.toml")"
        printf '[metadata]\\nbuilds = "more"\\n' > "$L/store.toml"
        printf '[types]\\nbuild = true\\n' > "$L/buildonly.toml"; mkdir -p "$L/buildonly"
        [ -d "$L/buildonly/x" ] && echo "buildonly restored (wrong)"; mkdir -p "$L/buildonly/x"
        true`,
      },
    ]);
    const dir = app();
    const first = await stageApp(store, dir, 'contract/reuse', { buildpacks: dirs });
    assert.match(first.output, /kept: building/);
    assert.match(first.output, /cached: new/);
    const second = await stageApp(store, dir, 'contract/reuse', { buildpacks: dirs });
    assert.match(second.output, /kept: reusing/);
    assert.match(second.output, /cached: 1/);
    assert.match(second.output, /store: builds = "more"/);
    assert.doesNotMatch(second.output, /buildonly restored/);
    assert.equal(second.digest, first.digest);
    assert.ok(second.layers.every((l) => l.reused));
    assert.equal(second.bytesWritten, 0);
    const cleared = await stageApp(store, dir, 'contract/reuse', { buildpacks: dirs, clearCache: true });
    assert.match(cleared.output, /cached: new/);
  });

  test('slices: each [[slices]] paths glob becomes its own app layer', async () => {
    const dir = app();
    mkdirSync(join(dir, 'static'));
    writeFileSync(join(dir, 'static', 'a.css'), 'x');
    const dirs = bps([
      {
        id: 'test/slices',
        build: 'printf "[[slices]]\\npaths = [\\"static/*.css\\"]\\n" > "$CNB_LAYERS_DIR/launch.toml"',
      },
    ]);
    const r = await stageApp(store, dir, 'contract/slices', { buildpacks: dirs });
    assert.deepEqual(
      r.layers.map((l) => l.name),
      ['slice 1', 'app', 'launcher', 'config'],
    );
    const meta = JSON.parse(
      (await imageConfig(store, 'contract/slices')).config!.Labels!['io.buildpacks.lifecycle.metadata']!,
    );
    assert.equal(meta.app.length, 2);
    assert.equal(meta['process-types'], undefined);
  });
});
