import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainPlan, parseDetectPlan, resolvePlan, type PlanAlternative } from './build-plan.js';

const el = (id: string, alternatives: PlanAlternative[], optional = false) => ({
  buildpack: id,
  optional,
  alternatives,
});
const alt = (provides: string[], requires: string[]): PlanAlternative => ({
  provides,
  requires: requires.map((name) => ({ name })),
});

test('a requirement provided by an earlier buildpack resolves; providers are listed per entry', () => {
  const plan = resolvePlan([el('a', [alt(['x'], [])]), el('b', [alt([], ['x'])])]);
  assert.deepEqual(plan?.group, ['a', 'b']);
  assert.deepEqual(plan?.entries, [{ providers: ['a'], requires: [{ name: 'x' }] }]);
});

test('a required buildpack requiring what nobody provides fails the group; providing what nobody requires too', () => {
  assert.equal(resolvePlan([el('a', [alt([], ['x'])])]), undefined);
  assert.equal(resolvePlan([el('a', [alt(['x'], [])])]), undefined);
  assert.equal(
    resolvePlan([el('b', [alt([], ['x'])]), el('a', [alt(['x'], [])])]),
    undefined,
    'the provider must come first',
  );
});

test('an optional buildpack breaking the rules is dropped, the rest resolves', () => {
  const plan = resolvePlan([el('a', [alt([], [])]), el('opt', [alt([], ['nothing'])], true)]);
  assert.deepEqual(plan?.group, ['a']);
});

test('[[or]] alternatives are tried left to right, depth first', () => {
  const plan = resolvePlan([el('a', [alt(['x'], []), alt(['y'], [])]), el('b', [alt([], ['y'])])]);
  assert.deepEqual(plan?.group, ['a', 'b']);
  assert.ok(plan);
  assert.equal(plan.entries[0]!.requires[0]!.name, 'y');
});

test('detect plans: top level then each [[or]]', () => {
  const alts = parseDetectPlan(
    '[[provides]]\nname = "a"\n[[requires]]\nname = "a"\n[requires.metadata]\nversion = "1"\n[[or]]\n[[or.provides]]\nname = "b"\n',
    'plan',
  );
  assert.deepEqual(JSON.parse(JSON.stringify(alts)), [
    { provides: ['a'], requires: [{ name: 'a', metadata: { version: '1' } }] },
    { provides: ['b'], requires: [] },
  ]);
});

test('a top-level version in requires moves to metadata.version with a warning, as the lifecycle did (ruby-bundler)', () => {
  const warnings: string[] = [];
  const alts = parseDetectPlan(
    '[[provides]]\nname = "ruby"\n[[requires]]\nname = "ruby"\nversion = "3.1.3"\n',
    'the build plan of samples/ruby-bundler',
    (w) => warnings.push(w),
  );
  assert.deepEqual(JSON.parse(JSON.stringify(alts[0]!.requires)), [{ name: 'ruby', metadata: { version: '3.1.3' } }]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /samples\/ruby-bundler.*"ruby".*"version" key/);
  // The same value in both places is taken once; different values are the lifecycle's error.
  const same = parseDetectPlan('[[requires]]\nname = "a"\nversion = "1"\n[requires.metadata]\nversion = "1"\n', 'p');
  assert.deepEqual(JSON.parse(JSON.stringify(same[0]!.requires)), [{ name: 'a', metadata: { version: '1' } }]);
  assert.throws(
    () => parseDetectPlan('[[requires]]\nname = "a"\nversion = "1"\n[requires.metadata]\nversion = "2"\n', 'p'),
    /"version" key and a different "metadata.version"/,
  );
});

test('explainPlan names the requirement nothing provides, as the lifecycle logs "fail: X requires Y"', () => {
  const lines = explainPlan([el('samples/hello-moon', [alt([], ['some-world'])])], (b) => b);
  assert.deepEqual(lines, ['samples/hello-moon requires some-world, which no buildpack before it provides']);
  assert.deepEqual(
    explainPlan([el('a', [alt(['x'], [])])], (b) => b),
    ['a provides x, which no buildpack after it requires'],
  );
});
