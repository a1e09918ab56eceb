import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBuilderToml } from './builder-toml.js';

test('builder.toml: buildpacks by uri (relative to the toml, file://, docker://) or id, the order, [[run.images]]', () => {
  const c = parseBuilderToml(
    `
description = "a test builder"
[[buildpacks]]
uri = "bps/a"
[[buildpacks]]
uri = "file:///abs/b.tgz"
[[buildpacks]]
uri = "docker://127.0.0.1:5000/bp/c:1"
[[buildpacks]]
id = "slipway/procfile"
version = "1.0.0"
[[buildpacks]]
image = "127.0.0.1:5000/bp/d:2"
[[order]]
[[order.group]]
id = "test/a"
[[order.group]]
id = "slipway/procfile"
optional = true
[[run.images]]
image = "default/run"
mirrors = ["127.0.0.1:5000/default/run"]
[lifecycle]
version = "0.20.0"
`,
    '/work/builder/builder.toml',
  );
  assert.equal(c.description, 'a test builder');
  assert.deepEqual(
    c.buildpacks.map((b) => b.uri ?? `${b.id}@${b.version}`),
    [
      '/work/builder/bps/a',
      '/abs/b.tgz',
      'docker://127.0.0.1:5000/bp/c:1',
      'slipway/procfile@1.0.0',
      '127.0.0.1:5000/bp/d:2',
    ],
  );
  assert.deepEqual(c.order, [[{ id: 'test/a' }, { id: 'slipway/procfile', optional: true }]]);
  assert.deepEqual(c.runImages, [{ image: 'default/run', mirrors: ['127.0.0.1:5000/default/run'] }]);
  assert.equal(c.lifecycleVersion, '0.20.0');
});

test('builder.toml: the older [stack] run-image; errors name the file', () => {
  const c = parseBuilderToml(
    '[stack]\nid = "io.x"\nrun-image = "r"\nrun-image-mirrors = ["m"]\n[[order]]\n[[order.group]]\nid = "a"\n',
    'b.toml',
  );
  assert.deepEqual(c.runImages, [{ image: 'r', mirrors: ['m'] }]);
  assert.equal(c.stackId, 'io.x');
  assert.throws(
    () => parseBuilderToml('[[buildpacks]]\nversion = "1"\n[[order]]\n[[order.group]]\nid = "a"\n', 'b.toml'),
    /b.toml buildpacks\[0\] needs a uri or an id/,
  );
  assert.throws(() => parseBuilderToml('description = "x"\n', 'b.toml'), /b.toml has no \[\[order\]\] groups/);
});
