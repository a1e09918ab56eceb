import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { processCommand, summary } from './build.js';
import type { BuildAppReport } from '../../stage/cnb/build-app.js';

describe("build summary's processes line", () => {
  test('a shell form shows its script quoted, without the type name the shell gets as $0', () => {
    assert.equal(
      processCommand({ type: 'web', command: ['/bin/sh', '-c', 'node server.js', 'web'], args: [] }),
      "/bin/sh -c 'node server.js'",
    );
  });

  test('arguments after $0, and the process args, are kept; a plain command is shown as it is', () => {
    assert.equal(
      processCommand({ type: 'worker', command: ['bash', '-c', 'echo "$1"', 'worker', 'x y'], args: ['--z'] }),
      `bash -c 'echo "$1"' 'x y' --z`,
    );
    assert.equal(processCommand({ type: 'web', command: ['node', 'server.js'], args: [] }), 'node server.js');
    assert.equal(processCommand({ type: 'web', command: ['sh', '-c', "echo 'hi'"] }), `sh -c 'echo '\\''hi'\\'''`);
  });
});

describe('build summary of an unchanged build', () => {
  const report = (reused: boolean) =>
    ({
      image: 'apps/web:latest',
      repository: 'apps/web',
      tag: 'latest',
      digest: `sha256:${'a'.repeat(64)}`,
      stack: { name: 'default', version: '1', run: `sha256:${'b'.repeat(64)}`, build: `sha256:${'c'.repeat(64)}` },
      group: [{ id: 'slipway/nodejs', version: '0.2.0' }],
      processes: [{ type: 'web', command: ['node', 'server.js'], args: [], default: true }],
      layers: [
        { name: 'app', diffId: `sha256:${'d'.repeat(64)}`, digest: `sha256:${'e'.repeat(64)}`, size: 9000, reused },
      ],
      restored: { fromCache: [], metadataOnly: [] },
      layersUnpacked: 0,
      extensions: [],
      seconds: { layerCache: 0, detect: 0.02, extend: 0, build: 0.1, export: 0.05, total: reused ? 0.01 : 0.3 },
      bytesWritten: reused ? 0 : 9000,
      warnings: [],
      ...(reused ? { reused: { digest: `sha256:${'a'.repeat(64)}`, builtAt: '2026-12-07T00:00:00.000Z' } } : {}),
    }) as unknown as BuildAppReport;

  test('says which build it reused and that no container started', () => {
    const text = summary(report(true), undefined);
    assert.match(
      text,
      new RegExp(`unchanged: reused sha256:${'a'.repeat(64)} from the build at 2026-12-07T00:00:00.000Z`),
    );
    assert.match(text, /took 0\.01 s \(no container started\), 0 B of new layers/);
    assert.doesNotMatch(text, /detect/);
  });

  test('a real build shows its phases and no reuse line', () => {
    const text = summary(report(false), undefined);
    assert.doesNotMatch(text, /unchanged/);
    assert.match(text, /took 0\.30 s \(detect 0\.02, build 0\.10, export 0\.05\)/);
  });
});
