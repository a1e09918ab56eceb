import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BuildVolume } from '../src/sandbox/build-volume.js';
import { DEFAULT_LIMITS } from '../src/sandbox/limits.js';
import { readFileSync, readdirSync } from 'node:fs';
import { keyHash } from '../src/buildpack/classic/buildpack-source.js';
import { stageClassic, type StageClassicOptions } from '../src/stage/classic/stage-classic.js';
import { ClassicStageError } from '../src/buildpack/classic/classic-error.js';
import { importDroplet } from '../src/droplet/import.js';
import { DROPLET_LABEL } from '../src/droplet/layout.js';
import type { LocalStore } from '../src/index.js';
import { buildStore, imageConfig, runImage } from './build-fixtures.js';
import { classicApp, classicBuildpack } from './classic-fixtures.js';
import { commandExists, podmanEnv, run, slipway, slipwayOk, tempDir } from './helpers.js';

describe('classic (CF v2 / Heroku) buildpacks', () => {
  let store: LocalStore;
  let home: string;
  let cleanup: () => Promise<void>;
  let work: { path: string; cleanup: () => Promise<void> };
  let output = '';
  const stage = (options: Omit<StageClassicOptions, 'output'>) => {
    output = '';
    return stageClassic(store, { ...options, output: (t) => (output += t) });
  };
  const failsWith = async (options: Omit<StageClassicOptions, 'output'>, exitCode: number, message: RegExp) => {
    await assert.rejects(stage(options), (err: unknown) => {
      assert.ok(err instanceof ClassicStageError, String(err));
      assert.equal(err.exitCode, exitCode, err.message);
      assert.match(err.message, message);
      return true;
    });
  };
  before(async () => {
    ({ store, home, cleanup } = await buildStore());
    work = await tempDir('slipway-classic');
  });
  after(async () => {
    await work.cleanup();
    await cleanup();
  });

  it('multi-buildpack: supply then supply+finalize; deps/IDX, config.yml, profile.d order, release, the image runs', async () => {
    const bps = join(work.path, 'multi');
    const apt = classicBuildpack(bps, 'apt', {
      supply: [
        'echo "-----> apt supply args: $*"',
        'mkdir -p "$3/$4/bin" && printf "#!/bin/sh\\necho tool-from-deps-$4\\n" > "$3/$4/bin/tool" && chmod +x "$3/$4/bin/tool"',
        'printf "name: apt\\nversion: 1.2.3\\nconfig: {}\\n" > "$3/$4/config.yml"',
        'echo cached > "$2/apt-cache"',
      ].join('\n'),
    });
    const final = classicBuildpack(bps, 'final', {
      supply: 'printf "name: final\\nversion: 9\\n" > "$3/$4/config.yml"',
      finalize: [
        'echo "-----> finalize args: $*"',
        'test "$1" = /tmp/app && test "$3" = /tmp/deps && test "$4" = 1 && test "$5" = /tmp/profile.d',
        'echo "env: CF_STACK=$CF_STACK MEMORY_LIMIT=$MEMORY_LIMIT LANG=$LANG MY_VAR=$MY_VAR"',
        'echo "$VCAP_APPLICATION" | grep -q application_name',
        'echo "$VCAP_SERVICES" | grep -q "{}"',
        'printf "export PATH=\\$DEPS_DIR/0/bin:\\$PATH\\nORDER=\\"\\${ORDER}droplet \\"\\n" > "$5/000_multi-supply.sh"',
        'mkdir -p "$1/.profile.d" && echo "ORDER=\\"\\${ORDER}app \\"" > "$1/.profile.d/app.sh"',
        'echo "ORDER=\\"\\${ORDER}profile\\"; export ORDER" > "$1/.profile"',
        'echo "export GREETING=\\$(tool)" > "$1/.profile.d/greet.sh"',
        'echo "final-cache" > "$2/final-cache"',
      ].join('\n'),
      release: 'printf -- "---\\ndefault_process_types:\\n  web: ./hello.sh\\n  worker: echo worker\\n"',
    });
    const app = classicApp(join(work.path, 'app-multi'));
    const report = await stage({
      path: app,
      image: 'apps/multi',
      buildpacks: [apt, final],
      env: ['MY_VAR=my value'],
    }).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${output}`);
    });
    assert.match(output, /apt supply args: \/tmp\/app \/tmp\/cache\/[0-9a-f]{16} \/tmp\/deps 0/);
    assert.match(
      output,
      /env: CF_STACK=default MEMORY_LIMIT=1024m LANG=C.UTF-8 MY_VAR=my value/,
      'the Debian stack has C.UTF-8, not en_US',
    );
    assert.deepEqual(
      report.buildpacks.map((b) => [b.name, b.version]),
      [
        ['apt', '1.2.3'],
        ['final', '9'],
      ],
    );
    assert.equal(report.detectedBuildpack, 'final');
    assert.deepEqual(report.processTypes, { web: './hello.sh', worker: 'echo worker' });
    assert.deepEqual(
      report.layers.map((l) => l.name),
      ['droplet', 'deps/0', 'deps/1', 'app', 'launcher', 'process-types'],
    );
    const label = JSON.parse((await imageConfig(store, 'apps/multi')).config!.Labels![DROPLET_LABEL]!);
    assert.equal(label.start_command, './hello.sh');
    assert.equal(label.buildpacks.length, 2);

    const r = await runImage(store, 'apps/multi');
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /hello tool-from-deps-0 order=droplet app profile/);
    const w = await runImage(store, 'apps/multi', { processType: 'worker' });
    assert.match(w.output, /^worker$/m);

    // The same image under podman (another OCI runtime manager), from an OCI layout.
    if (commandExists('podman')) {
      // podman names an image taken from a layout after its path: keep it lowercase.
      const layout = join(work.path, 'podman-layout');
      const lower = `/tmp/slipway-podman-${Date.now().toString(36)}`;
      await run('ln', ['-s', layout, lower]);
      try {
        await slipwayOk(home, ['copy', 'apps/multi', `oci:${layout}:multi`]);
        const podman = await podmanEnv(join(work.path, 'podman'));
        const out = await run(
          'podman',
          [...podman.args, 'run', '--rm', '--network', 'none', `oci:${lower}:multi`],
          podman.env,
        );
        assert.match(out, /hello tool-from-deps-0 order=droplet app profile/);
      } finally {
        await run('rm', ['-f', lower]);
      }
    }

    // The same droplet exported and imported again is the same image.
    const tgz = join(work.path, 'multi.tgz');
    await slipwayOk(home, ['droplet', 'export', 'apps/multi', '-o', tgz]);
    const again = await importDroplet(store, tgz, 'apps/multi-again', {
      processTypes: report.processTypes,
      buildpacks: report.buildpacks,
    });
    assert.equal(again.digest, report.digest);

    // Restaging keeps the caches of buildpacks still in the order; a buildpack leaving drops its cache.
    const second = await stage({ path: app, image: 'apps/multi', buildpacks: [apt, final], env: ['MY_VAR=my value'] });
    assert.equal(second.digest, report.digest, 'same input, same image');
    // The cache lives on the app's build volume: mounted here to look.
    const cache = async <T>(look: (dir: string) => T): Promise<T> => {
      const volume = await BuildVolume.open(home, 'classic:apps/multi', DEFAULT_LIMITS.diskBytes);
      try {
        assert.equal(volume.persistent, true);
        return look(join(volume.mountPoint, 'cache', 'classic'));
      } finally {
        await volume.close();
      }
    };
    await cache((dir) => {
      assert.deepEqual(readdirSync(dir).sort(), [keyHash(apt), 'final'].sort());
      assert.equal(readFileSync(join(dir, keyHash(apt), 'apt-cache'), 'utf8'), 'cached\n');
    });
    const only = await stage({ path: app, image: 'apps/multi', buildpacks: [final] });
    assert.equal(only.layers.filter((l) => l.name.startsWith('deps/')).length, 1);
    await cache((dir) => {
      assert.deepEqual(
        readdirSync(dir),
        ['final'],
        'the supply cache of a buildpack that left the order is dropped, the final one kept',
      );
      assert.equal(readFileSync(join(dir, 'final', 'final-cache'), 'utf8'), 'final-cache\n');
    });
  });

  it('detect mode: the first buildpack whose detect passes stages alone; none is 222', async () => {
    const bps = join(work.path, 'detect');
    const no = classicBuildpack(bps, 'no', { detect: 'exit 1', compile: 'exit 9' });
    const yes = classicBuildpack(bps, 'yes', {
      detect: 'test -f "$1/hello.sh" && echo "Always Matching"',
      compile: 'echo "compile args: $#: $1 $2"; echo "env: MY_VAR=$MY_VAR"; echo compiled > "$1/compiled.txt"',
      release: 'echo "--- {default_process_types: {web: cat compiled.txt}}"',
    });
    const also = classicBuildpack(bps, 'also', { detect: 'echo also', compile: 'exit 9' });
    const app = classicApp(join(work.path, 'app-detect'));
    const report = await stage({
      path: app,
      image: 'apps/detect',
      buildpacks: [no, yes, also],
      detect: true,
      env: ['MY_VAR=from env dir'],
    });
    assert.equal(report.detectOutput, 'Always Matching');
    assert.equal(report.detectedBuildpack, 'Always Matching');
    // CF's final compile gets two arguments (BUILD CACHE); the app's env is in the process env.
    assert.match(output, /compile args: 2: \/tmp\/app \/tmp\/cache\/final/);
    assert.match(output, /env: MY_VAR=from env dir/);
    assert.deepEqual(
      report.layers.map((l) => l.name),
      ['droplet', 'app', 'launcher', 'process-types'],
      'a compile buildpack has its deps/IDX removed',
    );
    const r = await runImage(store, 'apps/detect');
    assert.match(r.output, /^compiled$/m);
    await failsWith(
      { path: app, image: 'apps/none', buildpacks: [no], detect: true },
      222,
      /None of the buildpacks detected a compatible application/,
    );
  });

  it('failures carry the builder exit codes: supply 225, finalize and compile 223, release 224', async () => {
    const bps = join(work.path, 'fail');
    const app = classicApp(join(work.path, 'app-fail'));
    const good = classicBuildpack(bps, 'good', { supply: 'true', finalize: 'true', release: 'echo "--- {}"' });
    const badSupply = classicBuildpack(bps, 'bad-supply', { supply: 'echo supply failing >&2; exit 3' });
    const compileOnly = classicBuildpack(bps, 'compile-only', { compile: 'true' });
    const badFinalize = classicBuildpack(bps, 'bad-finalize', { finalize: 'exit 4' });
    const badCompile = classicBuildpack(bps, 'bad-compile', { compile: 'exit 5' });
    const badRelease = classicBuildpack(bps, 'bad-release', { compile: 'true', release: 'exit 6' });
    await failsWith(
      { path: app, image: 'apps/f', buildpacks: [badSupply, good] },
      225,
      /Failed to run all supply scripts/,
    );
    await failsWith(
      { path: app, image: 'apps/f', buildpacks: [compileOnly, good] },
      225,
      /does not support multi-buildpack apps/,
    );
    await failsWith({ path: app, image: 'apps/f', buildpacks: [badFinalize] }, 223, /Failed to compile droplet/);
    await failsWith({ path: app, image: 'apps/f', buildpacks: [badCompile] }, 223, /Failed to compile droplet/);
    await failsWith({ path: app, image: 'apps/f', buildpacks: [badRelease] }, 224, /Failed to build droplet release/);
    assert.match(output, /exit 6|/);
  });

  it('Heroku: $BP_DIR/export chaining, Procfile over release, .buildpacks with a git URL#ref', async () => {
    const bps = join(work.path, 'heroku');
    const first = classicBuildpack(bps, 'first', {
      supply: 'BP_DIR=$(cd "$(dirname "$0")/.." && pwd); echo "export GREETING=chained" > "$BP_DIR/export"',
    });
    const last = classicBuildpack(bps, 'last', {
      compile: 'echo "compile sees GREETING=$GREETING"; echo "$GREETING" > "$1/greeting.txt"',
      release: 'printf -- "---\\ndefault_process_types:\\n  web: echo from-release\\n"',
    });
    // The last buildpack comes from a git repository, pinned by tag.
    const repo = join(work.path, 'last-repo');
    await run('cp', ['-a', last, repo]);
    await run('sh', [
      '-c',
      `cd ${repo} && git init -q && git add . && git -c user.email=t@t -c user.name=t commit -qm v1 && git tag v1`,
    ]);
    const app = classicApp(join(work.path, 'app-heroku'), {
      Procfile: 'web: cat greeting.txt\nclock: echo tick\n',
      '.buildpacks': `${first}\nfile://${repo}#v1\n`,
    });
    const report = await stage({ path: app, image: 'apps/heroku' });
    assert.match(output, /compile sees GREETING=chained/);
    assert.match(output, /Warning: the last buildpack is not compatible with multi-buildpack apps/);
    assert.deepEqual(report.processTypes, { clock: 'echo tick', web: 'cat greeting.txt' });
    const r = await runImage(store, 'apps/heroku');
    assert.match(r.output, /^chained$/m);
  });

  it('slipway build dispatches to classic staging for classic buildpacks, with CF exit codes', async () => {
    const bps = join(work.path, 'cli');
    const bp = classicBuildpack(bps, 'static', {
      detect: 'exit 1',
      compile: 'echo "-----> static compile"; echo page > "$1/index.txt"',
      release: 'echo "--- {default_process_types: {web: cat index.txt}}"',
    });
    const app = classicApp(join(work.path, 'app-cli'));
    const out = await slipwayOk(home, ['--json', 'build', 'apps/cli', '-p', app, '-b', bp]);
    const report = JSON.parse(out) as { digest: string; processTypes: Record<string, string> };
    assert.deepEqual(report.processTypes, { web: 'cat index.txt' });
    const r = await runImage(store, 'apps/cli');
    assert.match(r.output, /^page$/m);
    const none = await slipway(home, ['build', 'apps/cli2', '-p', app, '-b', bp, '--detect']);
    assert.equal(none.code, 222, none.stderr);
    assert.match(none.stderr, /None of the buildpacks detected/);
  });
});
