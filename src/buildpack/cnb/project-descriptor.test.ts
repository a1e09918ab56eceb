import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProjectDescriptor, pathFilter } from './project-descriptor.js';

test('schema 0.2: group buildpacks by id@version or uri, build env, exclude, name', () => {
  const p = parseProjectDescriptor(`
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
`, '/app');
  assert.deepEqual(p.buildpacks, ['slipway/nodejs@0.1.0', '/app/bp']);
  assert.deepEqual(p.env, ['BP_NODE_VERSION=20']);
  assert.equal(p.name, 'web');
  assert.deepEqual(p.projectMetadata, { source: { type: 'project', version: { declared: '1.2.0' }, metadata: { url: '' } } });
  const keep = pathFilter(p.include, p.exclude)!;
  assert.equal(keep('spec/a.js', false), false);
  assert.equal(keep('a/b/x.log', false), false);
  assert.equal(keep('server.js', false), true);
});

test('schema 0.1 ([project], [build]) is read as pack reads it, with a warning', () => {
  const p = parseProjectDescriptor('[project]\nname = "old"\n[build]\ninclude = ["src/"]\n[[build.buildpacks]]\nid = "slipway/procfile"\n[[build.env]]\nname = "A"\nvalue = "1"\n', '/app');
  assert.equal(p.schema, '0.1');
  assert.deepEqual(p.buildpacks, ['slipway/procfile']);
  assert.deepEqual(p.env, ['A=1']);
  assert.equal(p.warnings.length, 1);
  const keep = pathFilter(p.include, p.exclude)!;
  assert.equal(keep('src/x.c', false), true);
  assert.equal(keep('README', false), false);
});

test('include with exclude, or uri with version, is an error', () => {
  assert.throws(() => parseProjectDescriptor('[_]\nschema-version = "0.2"\n[io.buildpacks]\ninclude = ["a"]\nexclude = ["b"]\n', '/app'), /include and exclude/);
  assert.throws(() => parseProjectDescriptor('[_]\nschema-version = "0.2"\n[[io.buildpacks.group]]\nuri = "x"\nversion = "1"\n', '/app'), /both uri and version/);
});
