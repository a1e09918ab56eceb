import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './helpers.js';

const exec = promisify(execFile);

/** dependency-cruiser over some files with the project's rules: its exit code and report. */
async function cruise(files: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await exec(
      join(ROOT, 'node_modules/.bin/depcruise'),
      [...files, '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
      { cwd: ROOT },
    );
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: `${e.stdout}${e.stderr}` };
  }
}

test('the layer rules fail on a wrong import: oci/ reaching up into a use case, a use case into a face, a circle', async () => {
  const id = randomBytes(4).toString('hex');
  const files = {
    up: `src/oci/zz-layer-rule-${id}.ts`,
    face: `src/rebase/zz-layer-rule-${id}.ts`,
    a: `src/copy/zz-circle-a-${id}.ts`,
    b: `src/copy/zz-circle-b-${id}.ts`,
  };
  try {
    writeFileSync(join(ROOT, files.up), "export { stage } from '../stage/cnb/stage.js';\n");
    writeFileSync(join(ROOT, files.face), "import '../cli/main.js';\n");
    writeFileSync(join(ROOT, files.a), `export { b } from './zz-circle-b-${id}.js';\nexport const a = 1;\n`);
    writeFileSync(join(ROOT, files.b), `export { a } from './zz-circle-a-${id}.js';\nexport const b = 2;\n`);
    const r = await cruise(Object.values(files));
    assert.notEqual(r.code, 0, 'depcruise must fail');
    assert.match(r.out, new RegExp(`oci-imports-only-errors: ${files.up} → src/stage/cnb/stage.ts`));
    assert.match(r.out, new RegExp(`use-case-imports-face: ${files.face} → src/cli/main.ts`));
    assert.match(r.out, /no-circular: src\/copy\/zz-circle-/);
  } finally {
    for (const f of Object.values(files)) rmSync(join(ROOT, f), { force: true });
  }
});

test('the tree as it is passes the layer rules', async () => {
  const r = await cruise(['src', 'test', 'bench', 'bin']);
  assert.equal(r.code, 0, r.out);
});
