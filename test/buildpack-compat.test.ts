import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalStore } from '../src/index.js';
import type { Progress } from '../src/progress.js';
import { StageError } from '../src/stage/cnb/stage-error.js';
import { buildApp } from '../src/stage/cnb/build-app.js';
import { buildStore, scratchDirs, stageApp } from './build-fixtures.js';
import { tempDir } from './helpers.js';

/**
 * Public buildpacks as their authors wrote them (issue 22's defects), each shaped like
 * the buildpack that showed the defect and run for real in the default stack.
 */
describe('buildpacks as their authors meant them: CNB leniency', () => {
  let store: LocalStore;
  let cleanup: () => Promise<void>;
  let work: string;
  const { app, bps, fresh } = scratchDirs(() => work);
  const logs = (): { progress: Progress; lines: string[] } => {
    const lines: string[] = [];
    return { lines, progress: { start() {}, advance() {}, done() {}, log: (l) => lines.push(l) } };
  };

  before(async () => {
    ({ store, cleanup } = await buildStore());
    work = (await tempDir('slipway-bp-compat')).path;
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
