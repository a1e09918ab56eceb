import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy } from '../src/copy/copy.js';
import type { LocalStore } from '../src/index.js';
import { decompressing } from '../src/layer/compress.js';
import { readTar } from '../src/layer/tar-reader.js';
import { parseTransport } from '../src/oci/transport.js';
import { readLocal } from '../src/transport/local.js';
import { append } from '../src/image/mutate.js';
import { walkTree } from '../src/layer/tree-walk.js';
import { LayerOutput } from '../src/stage/layer-output.js';
import { buildStore, imageConfig, runImage, writeBuildpacks } from './build-fixtures.js';
import { ROOT, commandExists, podmanEnv, run, slipway, slipwayOk, tempDir } from './helpers.js';

const EXAMPLE = join(ROOT, 'examples', 'cnb-gmp');
const PI = /mpfr 4\.\d+\.\d+: pi = 3\.14159265358979323846264338327950288419716939937511\n/;
const POWER = /gmp 6\.\d+\.\d+: 2\^200 = 1606938044258990275541962092341162602522202993782792835301376\n/;

/** The paths of one layer of a local image. */
async function layerPaths(store: LocalStore, repository: string, tag: string, index: number): Promise<string[]> {
  const { artifact } = await readLocal(store, repository, tag);
  if (artifact.kind !== 'image') throw new Error('not an image');
  const layer = (await artifact.image.layers())[index]!;
  const paths: string[] = [];
  for await (const { entry, content } of readTar(await decompressing(await layer.uncompressed()))) {
    paths.push(entry.path);
    for await (const _ of content) void _;
  }
  return paths;
}

/** A builder directory with the C buildpack of the example and one extension written for a test. */
function extensionBuilder(
  root: string,
  ext: { id: string; api?: string; detect?: string; generate: string; files?: Record<string, string> },
  buildpack = { dir: join(EXAMPLE, 'buildpacks', 'c'), id: 'examples/c' },
): string {
  const dir = join(root, ext.id.replaceAll('/', '_'));
  mkdirSync(join(dir, 'ext', 'bin'), { recursive: true });
  writeFileSync(
    join(dir, 'ext', 'extension.toml'),
    `api = "${ext.api ?? '0.10'}"\n[extension]\nid = "${ext.id}"\nversion = "1.0.0"\n`,
  );
  for (const [name, body] of [
    ['detect', ext.detect ?? 'printf \'[[provides]]\\nname = "gmp"\\n\' >> "$2"'],
    ['generate', ext.generate],
  ] as const) {
    writeFileSync(join(dir, 'ext', 'bin', name), `#!/bin/sh\nset -e\n${body}\n`);
    chmodSync(join(dir, 'ext', 'bin', name), 0o755);
  }
  for (const [path, text] of Object.entries(ext.files ?? {})) writeFileSync(join(dir, path), text);
  writeFileSync(
    join(dir, 'builder.toml'),
    `[[buildpacks]]\nuri = "${buildpack.dir}"\n[[extensions]]\nuri = "ext"\n[[order]]\n[[order.group]]\nid = "${buildpack.id}"\n[[order-extensions]]\n[[order-extensions.group]]\nid = "${ext.id}"\n`,
  );
  return dir;
}

/**
 * CNB image extensions (image_extension.md, Platform API 0.12/0.13) without a daemon:
 * extension.toml, bin/detect and bin/generate, the Dockerfiles applied as root in the
 * sandbox, in real runc with the default stack and Debian's mirror.
 */
/** `slipway build apps/pi:v1` of the GMP example through its builder, in the store at `home`. */
function buildPi(home: string, ...extra: string[]) {
  return slipway(home, ['build', 'apps/pi:v1', '--builder', EXAMPLE, '--path', join(EXAMPLE, 'app'), ...extra]);
}

describe('CNB image extensions', () => {
  let store: LocalStore;
  let home: string;
  let cleanup: () => Promise<void>;
  let work: { path: string; cleanup: () => Promise<void> };
  let firstDigest = '';
  before(async () => {
    ({ store, home, cleanup } = await buildStore());
    work = await tempDir('slipway-extensions');
  });
  after(async () => {
    await work.cleanup();
    await cleanup();
  });

  test('the GMP example: build.Dockerfile adds the headers, run.Dockerfile the libraries, under the app layers; it runs', async () => {
    const r = await buildPi(home);
    assert.equal(r.code, 0, r.stderr);
    firstDigest = /^digest (sha256:[0-9a-f]{64})$/m.exec(r.stdout)?.[1] ?? '';
    assert.match(
      r.stdout,
      /^buildpacks: examples\/c@1\.0\.0$/m,
      'the group holds the buildpacks; the extension is not one of them',
    );
    assert.match(r.stdout, /^image extensions: examples\/gmp@1\.0\.0 \(build\.Dockerfile, run\.Dockerfile\)$/m);
    assert.match(r.stdout, /, extend \d+\.\d\d, build /);
    assert.match(r.stderr, /===> GENERATING/);
    assert.match(r.stderr, /examples\/gmp: applying build\.Dockerfile/);
    assert.match(
      r.stderr,
      /gcc -O2 \*\.c -lmpfr -lgmp/,
      'the C buildpack found mpfr.h: the extended build image has the headers',
    );
    const ran = await runImage(store, 'apps/pi:v1');
    assert.equal(ran.exitCode, 0, ran.output);
    assert.match(ran.output, POWER);
    assert.match(ran.output, PI);

    const config = await imageConfig(store, 'apps/pi', 'v1');
    const history = (config.history ?? []).map((h) => h.created_by ?? '');
    const at = history.indexOf('image extension examples/gmp: run.Dockerfile');
    assert.ok(at > 0, `the run.Dockerfile layer is in the history: ${history.join(' | ')}`);
    assert.match(history[at + 1]!, /Created by buildpack: examples\/c/, 'the app layers come right after it');
    assert.equal(config.config?.Labels?.['io.buildpacks.rebasable'], 'false');
    assert.equal(config.config?.Labels?.['io.slipway.extended-by'], 'examples/gmp');
    const added = await layerPaths(store, 'apps/pi', 'v1', at);
    assert.ok(added.includes('usr/lib/x86_64-linux-gnu/libmpfr.so.6'), 'the run layer holds libmpfr');
    assert.ok(!added.some((p) => p.startsWith('usr/include/')), 'no headers in the run image');
    assert.ok(
      !added.some((p) => p.startsWith('var/lib/apt/lists/') || p.startsWith('tmp/')),
      'apt lists, /tmp left out',
    );
    const baseLayers = config.rootfs.diff_ids.slice(0, at);
    for (let i = 0; i < baseLayers.length; i++)
      assert.ok(
        !(await layerPaths(store, 'apps/pi', 'v1', i)).includes('usr/lib/x86_64-linux-gnu/libmpfr.so.6'),
        'the stack run image has no libmpfr of its own',
      );
  });

  test('a second build takes the extended images as they are and gives the same digest', async () => {
    // --no-reuse: a real second build (not the no-change answer), to see what it reuses.
    const r = await buildPi(home, '--no-reuse');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /build\.Dockerfile unchanged, its layer is reused/);
    assert.match(r.stderr, /run\.Dockerfile unchanged, its layer is reused/);
    assert.ok(firstDigest);
    assert.match(r.stdout, new RegExp(`^digest ${firstDigest}$`, 'm'));
  });

  test('another store builds the same digest (extension layers are written by the deterministic writer)', async () => {
    const other = await tempDir('slipway-extensions-other');
    try {
      const r = await buildPi(other.path);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /examples\/gmp: applying run\.Dockerfile/, 'built afresh there');
      assert.match(r.stdout, new RegExp(`^digest ${firstDigest}$`, 'm'));
    } finally {
      await other.cleanup();
    }
  });

  test('the extended image runs under podman from an OCI layout', { skip: !commandExists('podman') }, async () => {
    // Beside the suite's directory, not in it: podman takes the path of an oci: layout as an image name, lowercase only.
    const layout = join(tmpdir(), `slipway-ext-podman-${randomBytes(6).toString('hex')}`);
    try {
      await copy(parseTransport('apps/pi:v1'), parseTransport(`oci:${layout}:pi`), async () => store);
      const pm = await podmanEnv(join(work.path, 'podman'));
      const out = await run('podman', [...pm.args, 'run', '--rm', `oci:${layout}:pi`], pm.env);
      assert.match(out, POWER);
      assert.match(out, PI);
    } finally {
      rmSync(layout, { recursive: true, force: true });
    }
  });

  test('rebase refuses the extended image, naming the extension', async () => {
    const r = await slipway(home, ['rebase', 'apps/pi:v1']);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /io\.buildpacks\.rebasable=false \(its run image was extended by the image extension examples\/gmp, whose run\.Dockerfile did not declare LABEL io\.buildpacks\.rebasable=true\)/,
    );
  });

  test('slipway builder create keeps [[order-extensions]]; build --builder IMAGE runs the extension', async () => {
    const created = JSON.parse(
      await slipwayOk(home, [
        '--json',
        'builder',
        'create',
        'builders/cnb-gmp:1',
        '--config',
        join(EXAMPLE, 'builder.toml'),
      ]),
    ) as { extensions: { id: string }[]; orderExtensions: { id: string }[][] };
    assert.deepEqual(
      created.extensions.map((e) => e.id),
      ['examples/gmp'],
    );
    assert.deepEqual(created.orderExtensions, [[{ id: 'examples/gmp', version: '1.0.0' }]]);
    const labels = (await imageConfig(store, 'builders/cnb-gmp', '1')).config?.Labels ?? {};
    assert.deepEqual(JSON.parse(labels['io.buildpacks.buildpack.order-extensions']!), [
      { group: [{ id: 'examples/gmp', version: '1.0.0' }] },
    ]);
    assert.ok(JSON.parse(labels['io.buildpacks.extension.layers']!)['examples/gmp']['1.0.0'].layerDiffID);
    const r = await slipway(home, [
      'build',
      'apps/pi-img:v1',
      '--builder',
      'builders/cnb-gmp:1',
      '--path',
      join(EXAMPLE, 'app'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /examples\/gmp: applying build\.Dockerfile/,
      'the builder image is another base: extended afresh',
    );
    const ran = await runImage(store, 'apps/pi-img:v1');
    assert.match(ran.output, PI);
  });

  test('--builder takes the builder.toml path and its uris wherever they are; a file that is no toml is said so', async () => {
    const dir = join(work.path, 'elsewhere');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'my-builder.toml'),
      `[[buildpacks]]\nuri = "${join(EXAMPLE, 'buildpacks', 'c')}"\n[[extensions]]\nuri = "${join(EXAMPLE, 'extensions', 'gmp')}"\n[[order]]\n[[order.group]]\nid = "examples/c"\n[[order-extensions]]\n[[order-extensions.group]]\nid = "examples/gmp"\n`,
    );
    const r = await slipway(home, [
      'build',
      'apps/pi-toml:v1',
      '--builder',
      join(dir, 'my-builder.toml'),
      '--path',
      join(EXAMPLE, 'app'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match((await runImage(store, 'apps/pi-toml:v1')).output, PI);
    const bad = await slipway(home, [
      'build',
      'apps/x:v1',
      '--builder',
      join(EXAMPLE, 'app', 'pi.c'),
      '--path',
      join(EXAMPLE, 'app'),
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(
      bad.stderr,
      /is a file but not a builder\.toml: give a builder directory, a builder\.toml, or a builder image/,
    );
    assert.doesNotMatch(bad.stderr, /ENOTDIR/);
    writeFileSync(
      join(dir, 'missing.toml'),
      '[[buildpacks]]\nuri = "nowhere/c"\n[[order]]\n[[order.group]]\nid = "examples/c"\n',
    );
    const missing = await slipway(home, [
      'build',
      'apps/x:v1',
      '--builder',
      join(dir, 'missing.toml'),
      '--path',
      join(EXAMPLE, 'app'),
    ]);
    assert.match(missing.stderr, /uri "nowhere\/c" does not exist .*relative to the builder\.toml/);
  });

  test('COPY from the context, ENV, LABEL rebasable=true and USER in a run.Dockerfile; such an image stays rebasable', async () => {
    const [hello] = writeBuildpacks(join(work.path, 'bps'), [
      {
        id: 'test/hello',
        build: `cat > "$1/launch.toml" <<'EOF'
[[processes]]
type = "web"
command = ["sh", "-c", "cat /opt/ext/hello.txt; echo \\"$EXT_GREETING as $(id -u)\\""]
default = true
EOF`,
      },
    ]);
    const builder = extensionBuilder(
      join(work.path, 'builders'),
      {
        id: 'test/copy',
        // It provides nothing (nothing would require it, and an optional extension that provides what no one needs is dropped).
        detect: 'true',
        generate: [
          'mkdir -p "$1/context/files"',
          'echo "copied from the context" > "$1/context/files/hello.txt"',
          `cat > "$1/run.Dockerfile" <<'EOF'
ARG base_image
FROM \${base_image}
ARG greeting=unset
USER root
COPY files/ /opt/ext/
ENV EXT_GREETING="\${greeting} world"
LABEL io.buildpacks.rebasable=true
ARG user_id
ARG group_id
USER \${user_id}:\${group_id}
EOF`,
          `printf '[[run.args]]\\nname = "greeting"\\nvalue = "hello"\\n' > "$1/extend-config.toml"`,
        ].join('\n'),
      },
      { dir: hello!, id: 'test/hello' },
    );
    const app = join(work.path, 'copy-app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'x.txt'), 'x\n');
    const r = await slipway(home, ['build', 'apps/copy:v1', '--builder', builder, '--path', app]);
    assert.equal(r.code, 0, r.stderr);
    const out = (await runImage(store, 'apps/copy:v1')).output;
    assert.equal(out, 'copied from the context\nhello world as 1000\n');
    const labels = (await imageConfig(store, 'apps/copy', 'v1')).config?.Labels ?? {};
    assert.equal(labels['io.buildpacks.rebasable'], 'true');
    assert.equal(labels['io.slipway.extended-by'], 'test/copy');
    // As the lifecycle records it: the run image's own top layer, the extension's layer above it.
    const config = await imageConfig(store, 'apps/copy', 'v1');
    const meta = JSON.parse(labels['io.buildpacks.lifecycle.metadata']!) as {
      runImage: { topLayer: string; reference: string };
    };
    const run = await imageConfig(store, 'default/run', 'latest');
    assert.equal(meta.runImage.topLayer, run.rootfs.diff_ids.at(-1));
    assert.equal(config.rootfs.diff_ids.indexOf(meta.runImage.topLayer), run.rootfs.diff_ids.length - 1);
  });

  test('a rebasable extended image rebases: the extension layer stays, over the new run image', async () => {
    // A patched run image: the stack's with one more layer, as default/run:latest.
    const { artifact } = await readLocal(store, 'default/run', 'latest');
    if (artifact.kind !== 'image') throw new Error('not an image');
    const patch = join(work.path, 'patch');
    mkdirSync(join(patch, 'etc'), { recursive: true });
    writeFileSync(join(patch, 'etc', 'patched'), 'yes\n');
    await store.withLease(async (lease) => {
      const layer = await new LayerOutput(lease, new Map()).write(() =>
        walkTree(patch, { owner: { kind: 'map', uid: 0, gid: 0 } }),
      );
      const patched = await append(artifact.image, { layer: layer.layer, history: { created_by: 'test: a patch' } });
      await lease.putBytes(await patched.rawConfig());
      await store.putManifest('default/run', await patched.rawManifest(), await patched.mediaType(), ['latest'], lease);
    });
    const before = await imageConfig(store, 'apps/copy', 'v1');
    const r = await slipway(home, ['rebase', 'apps/copy:v1']);
    assert.equal(r.code, 0, r.stderr);
    const after = await imageConfig(store, 'apps/copy', 'v1');
    const n = before.rootfs.diff_ids.length;
    assert.equal(after.rootfs.diff_ids.length, n + 1, 'one more base layer');
    const history = (after.history ?? []).map((h) => h.created_by ?? '');
    assert.ok(history.indexOf('test: a patch') < history.indexOf('image extension test/copy: run.Dockerfile'));
    const out = (
      await runImage(store, 'apps/copy:v1', {
        entrypoint: '',
        args: ['sh', '-c', 'cat /etc/patched /opt/ext/hello.txt'],
      })
    ).output;
    assert.equal(out, 'yes\ncopied from the context\n');
  });

  test('what cannot be applied fails with the extension, the file and the instruction; never a dropped extension', async () => {
    const root = join(work.path, 'negative');
    const app = join(EXAMPLE, 'app');
    const build = (builder: string) => slipway(home, ['build', 'apps/neg:v1', '--builder', builder, '--path', app]);
    const expose = await build(
      extensionBuilder(root, {
        id: 'test/expose',
        generate: `printf 'ARG base_image\\nFROM \${base_image}\\nEXPOSE 8080\\n' > "$1/run.Dockerfile"`,
      }),
    );
    assert.notEqual(expose.code, 0);
    assert.match(
      expose.stderr,
      /image extension test\/expose: run\.Dockerfile line 3: EXPOSE is not allowed in an image extension's Dockerfile/,
    );

    const failing = await build(
      extensionBuilder(root, { id: 'test/fail', generate: 'echo "cannot generate" >&2; exit 3' }),
    );
    assert.notEqual(failing.code, 0);
    assert.match(
      failing.stderr,
      /generate: image extension test\/fail@1\.0\.0: bin\/generate exited 3:\ncannot generate/,
    );

    const runFails = await build(
      extensionBuilder(root, {
        id: 'test/runfails',
        generate: `printf 'ARG base_image\\nFROM \${base_image}\\nUSER root\\nRUN echo broken >&2; exit 7\\n' > "$1/build.Dockerfile"`,
      }),
    );
    assert.match(
      runFails.stderr,
      /extend: image extension test\/runfails: build\.Dockerfile line 4: RUN exited 7:\nbroken/,
    );

    const old = await build(extensionBuilder(root, { id: 'test/old', api: '0.9', generate: 'true' }));
    assert.match(old.stderr, /Buildpack API "0\.9" is not supported for image extensions/);

    const requires = await build(
      extensionBuilder(root, {
        id: 'test/requires',
        detect: 'printf \'[[requires]]\\nname = "gmp"\\n\' >> "$2"',
        generate: 'true',
      }),
    );
    assert.match(
      requires.stderr,
      /image extension test\/requires@1\.0\.0: its build plan has \[\[requires\]\]; an image extension may only provide/,
    );

    const dir = extensionBuilder(root, { id: 'test/named', generate: 'true' });
    writeFileSync(
      join(dir, 'builder.toml'),
      `[[buildpacks]]\nuri = "${join(EXAMPLE, 'buildpacks', 'c')}"\n[[order]]\n[[order.group]]\nid = "examples/c"\n[[order-extensions]]\n[[order-extensions.group]]\nid = "test/missing"\n`,
    );
    const missing = await build(dir);
    assert.match(missing.stderr, /image extension test\/missing of \[\[order-extensions\]\] is not available/);
  });
});
