import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProjectDescriptor, pathFilter } from './project-descriptor.js';

test('schema 0.2: group buildpacks by id@version or uri, build env, exclude, name', () => {
  const p = parseProjectDescriptor(
    `
[_]
schema-version = "0.2"
name = "web"
version = "1.2.0"
[io.buildpacks]
exclude = ["spec/", "*.log"]
[[io.buildpacks.group]]
id = "slipway/nodejs"
version = "0.1.0"
[[io.buildpacks.group]]
uri = "./bp"
[[io.buildpacks.build.env]]
name = "BP_NODE_VERSION"
value = "20"
`,
    '/app',
  );
  assert.deepEqual(p.buildpacks, ['slipway/nodejs@0.1.0', '/app/bp']);
  assert.deepEqual(p.env, ['BP_NODE_VERSION=20']);
  assert.equal(p.name, 'web');
  assert.deepEqual(p.projectMetadata, {
    source: { type: 'project', version: { declared: '1.2.0' }, metadata: { url: '' } },
  });
  const keep = pathFilter(p.include, p.exclude)!;
  assert.equal(keep('spec/a.js', false), false);
  assert.equal(keep('a/b/x.log', false), false);
  assert.equal(keep('server.js', false), true);
});

test('schema 0.1 ([project], [build]) is read as pack reads it, with a warning', () => {
  const p = parseProjectDescriptor(
    '[project]\nname = "old"\n[build]\ninclude = ["src/"]\n[[build.buildpacks]]\nid = "slipway/procfile"\n[[build.env]]\nname = "A"\nvalue = "1"\n',
    '/app',
  );
  assert.equal(p.schema, '0.1');
  assert.deepEqual(p.buildpacks, ['slipway/procfile']);
  assert.deepEqual(p.env, ['A=1']);
  assert.equal(p.warnings.length, 1);
  const keep = pathFilter(p.include, p.exclude)!;
  assert.equal(keep('src/x.c', false), true);
  assert.equal(keep('README', false), false);
});

test('include with exclude, or uri with version, is an error', () => {
  assert.throws(
    () =>
      parseProjectDescriptor(
        '[_]\nschema-version = "0.2"\n[io.buildpacks]\ninclude = ["a"]\nexclude = ["b"]\n',
        '/app',
      ),
    /include and exclude/,
  );
  assert.throws(
    () =>
      parseProjectDescriptor(
        '[_]\nschema-version = "0.2"\n[[io.buildpacks.group]]\nuri = "x"\nversion = "1"\n',
        '/app',
      ),
    /both uri and version/,
  );
});

test('inline buildpacks: id + script in their place in the group (pack: version 0.0.0, shell /bin/sh, api required); URLs kept', () => {
  const p = parseProjectDescriptor(
    `
[_]
schema-version = "0.2"
[[io.buildpacks.group]]
uri = "https://example.com/bp.tgz"
[[io.buildpacks.group]]
id = "me/inline"
  [io.buildpacks.group.script]
  api = "0.10"
  inline = "echo hi"
[[io.buildpacks.group]]
id = "me/bash"
version = "2.0.0"
  [io.buildpacks.group.script]
  api = "0.9"
  shell = "/bin/bash"
  inline = "echo bash"
[[io.buildpacks.group]]
uri = "file:///opt/bp"
`,
    '/app',
  );
  assert.deepEqual(p.buildpacks, [
    'https://example.com/bp.tgz',
    { kind: 'inline', id: 'me/inline', version: '0.0.0', api: '0.10', shell: '/bin/sh', inline: 'echo hi' },
    { kind: 'inline', id: 'me/bash', version: '2.0.0', api: '0.9', shell: '/bin/bash', inline: 'echo bash' },
    '/opt/bp',
  ]);
  const old = parseProjectDescriptor(
    '[[build.buildpacks]]\nid = "x"\n[build.buildpacks.script]\napi = "0.8"\ninline = "true"\n',
    '/app',
  );
  assert.deepEqual(
    old.buildpacks,
    [{ kind: 'inline', id: 'x', version: '0.0.0', api: '0.8', shell: '/bin/sh', inline: 'true' }],
    'schema 0.1 too',
  );
  assert.throws(
    () =>
      parseProjectDescriptor('[[build.buildpacks]]\nid = "x"\n[build.buildpacks.script]\ninline = "true"\n', '/app'),
    /inline buildpack x has no script.api/,
  );
  assert.throws(
    () =>
      parseProjectDescriptor(
        '[_]\nschema-version = "0.2"\n[[io.buildpacks.group]]\nuri = "urn:cnb:registry:a/b"\n',
        '/app',
      ),
    /only|use a path/,
  );
});
