import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirOnce } from '../../fs/dir-once.js';
import { toToml } from './toml.js';

/** An inline buildpack of project.toml (`[[io.buildpacks.group]]` id/version with a `[...script]` table). */
export interface InlineBuildpack {
  kind: 'inline';
  id: string;
  /** pack's default when none is given: "0.0.0". */
  version: string;
  api: string;
  /** The interpreter of the script (default /bin/sh). */
  shell: string;
  inline: string;
}

/** The files of an inline buildpack, as pack's createInlineBuildpack writes them. */
export function inlineBuildpackFiles(bp: InlineBuildpack): Record<string, string> {
  return {
    // No [[targets]]: the lifecycle infers os = "linux" from bin/build (pack writes the builder's stack id instead).
    'buildpack.toml': toToml({ api: bp.api, buildpack: { id: bp.id, version: bp.version } }),
    'bin/detect': `#!${bp.shell}\n\nexit 0\n`,
    'bin/build': `#!${bp.shell}\n\n${bp.inline}\n`,
  };
}

/**
 * Writes an inline buildpack as a directory under `root`, named by the hash of its
 * files so the same script is written once and a changed one gets a new directory;
 * returns that directory.
 */
export async function materializeInlineBuildpack(bp: InlineBuildpack, root: string): Promise<string> {
  const files = inlineBuildpackFiles(bp);
  const hash = createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 32);
  const dir = join(root, hash);
  await makeDirOnce(dir, (tmp) => {
    mkdirSync(join(tmp, 'bin'), { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(join(tmp, name), text);
      chmodSync(join(tmp, name), name.startsWith('bin/') ? 0o755 : 0o644);
    }
    chmodSync(tmp, 0o755);
    chmodSync(join(tmp, 'bin'), 0o755);
  });
  return dir;
}
