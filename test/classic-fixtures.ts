import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes a classic (CF v2 / Heroku) buildpack: bin/NAME for each script body (sh, `set -e`). */
export function classicBuildpack(
  root: string,
  name: string,
  scripts: Partial<Record<'detect' | 'supply' | 'finalize' | 'compile' | 'release', string>>,
): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  for (const [script, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, 'bin', script), `#!/bin/sh\nset -e\n${body}\n`);
    chmodSync(join(dir, 'bin', script), 0o755);
  }
  return dir;
}

/** A tiny app: a start script that prints what the launcher set up. */
export function classicApp(dir: string, files: Record<string, string> = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hello.sh'), '#!/bin/sh\necho "hello $GREETING order=$ORDER"\n');
  chmodSync(join(dir, 'hello.sh'), 0o755);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
