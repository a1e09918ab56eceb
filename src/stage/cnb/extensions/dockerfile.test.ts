import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlipwayError } from '../../../errors.js';
import { parseExtensionDockerfile, substitute } from './dockerfile.js';

test('a build.Dockerfile: ARG base_image, FROM ${base_image}, then RUN, USER, COPY, ENV, LABEL, WORKDIR', () => {
  const df = parseExtensionDockerfile(
    [
      '# a comment',
      'ARG base_image',
      'FROM ${base_image}',
      'ARG build_id=0',
      'USER root',
      'RUN apt-get update && \\',
      '    apt-get install -y libgmp-dev',
      'RUN ["/bin/echo", "exec form"]',
      'COPY --chown=1000:1000 files/ /opt/ext/',
      'ENV GMP=1 SAY="hello world"',
      'LABEL io.buildpacks.rebasable=true',
      'WORKDIR /opt',
      'ARG user_id',
      'USER ${user_id}',
    ].join('\n'),
    'build',
    'x/gmp',
  );
  assert.equal(df.switchTo, undefined);
  assert.deepEqual(df.preFromArgs, [{ name: 'base_image' }]);
  assert.deepEqual(
    df.instructions.map((i) => i.op),
    ['ARG', 'USER', 'RUN', 'RUN', 'COPY', 'ENV', 'LABEL', 'WORKDIR', 'ARG', 'USER'],
  );
  const run = df.instructions[2]!;
  assert.ok(run.op === 'RUN' && run.shell && run.command[0]!.includes('apt-get install -y libgmp-dev'));
  assert.equal(run.line, 6);
  const exec = df.instructions[3]!;
  assert.ok(exec.op === 'RUN' && !exec.shell);
  assert.deepEqual(exec.command, ['/bin/echo', 'exec form']);
  const copy = df.instructions[4]!;
  assert.ok(copy.op === 'COPY');
  assert.deepEqual([copy.sources, copy.dest, copy.chown], [['files/'], '/opt/ext/', '1000:1000']);
  const env = df.instructions[5]!;
  assert.ok(env.op === 'ENV');
  assert.deepEqual(env.pairs, [
    ['GMP', '1'],
    ['SAY', 'hello world'],
  ]);
  assert.equal(df.usesBuildId, false);
});

test('a run.Dockerfile with a plain FROM switches the run image; a build_id reference is noticed', () => {
  const df = parseExtensionDockerfile('ARG tag=v2\nFROM my/run:${tag}\n', 'run', 'x/switch');
  assert.equal(df.switchTo, 'my/run:v2');
  assert.equal(df.instructions.length, 0);
  const busted = parseExtensionDockerfile(
    'ARG base_image\nFROM $base_image\nARG build_id=0\nRUN echo $build_id\n',
    'run',
    'x',
  );
  assert.equal(busted.usesBuildId, true);
});

test('what the spec does not allow, or Slipway does not apply, is refused naming the extension, file, line and instruction', () => {
  const refused = (text: string, kind: 'build' | 'run', pattern: RegExp, instruction?: string) =>
    assert.throws(
      () => parseExtensionDockerfile(text, kind, 'x/bad'),
      (err: unknown) =>
        err instanceof SlipwayError &&
        pattern.test(err.message) &&
        err.message.startsWith('image extension x/bad: ') &&
        (instruction === undefined || err.detail?.['instruction'] === instruction),
    );
  const head = 'ARG base_image\nFROM ${base_image}\n';
  refused(`${head}EXPOSE 8080\n`, 'run', /run\.Dockerfile line 3: EXPOSE is not allowed/, 'EXPOSE');
  refused(`${head}CMD ["x"]\n`, 'build', /build\.Dockerfile line 3: CMD is not allowed/, 'CMD');
  refused(
    `${head}ADD https://x/y /y\n`,
    'build',
    /ADD is allowed by the spec but Slipway does not apply it yet/,
    'ADD',
  );
  refused(`${head}SHELL ["/bin/bash", "-c"]\n`, 'build', /SHELL is allowed by the spec/, 'SHELL');
  refused('FROM debian:bookworm\nRUN true\n', 'build', /a build\.Dockerfile must extend FROM \$\{base_image\}/);
  refused(`${head}FROM other\n`, 'run', /a second FROM/);
  refused('RUN true\n', 'build', /RUN before FROM/);
  refused('FROM ${base_image}\n', 'build', /needs ARG base_image before it/);
  refused(`${head}COPY --from=builder /a /b\n`, 'build', /only --chown is supported/);
  refused(`${head}RUN --mount=type=cache,target=/x true\n`, 'build', /RUN flags/);
});

test('substitution as Docker does it in FROM, COPY, ENV, USER', () => {
  const vars = { a: 'A', empty: '' };
  assert.equal(
    substitute('$a-${a}-${missing:-dflt}-${empty:-e}-${a:+alt}-${missing:+alt}-\\$a', vars),
    'A-A-dflt-e-alt--$a',
  );
});
