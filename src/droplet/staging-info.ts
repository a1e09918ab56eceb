import { basename, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SlipwayError } from '../errors.js';
import { ConfinedDir } from '../fs/confined-dir.js';
import type { StagingInfo } from './layout.js';

/** CF's staging_info.yml is a line of JSON; more than this is not one. */
const MAX_STAGING_INFO = 1 << 20;

/**
 * Reads a droplet's staging_info.yml. CF writes it as JSON, which is YAML too, so a
 * YAML parser reads both CF's file and a hand-written YAML one. A droplet without
 * it is valid (the launcher then needs a command).
 *
 * The file's directory is the droplet's, which the host made; the file itself came
 * from a tarball or a build, so it is opened with no-follow: a symlink (to a host file
 * whose YAML would become the start command, a label and the report) or a FIFO is
 * UNSAFE_PATH naming it, more than 1 MiB is TOO_LARGE.
 */
export function readStagingInfo(file: string): StagingInfo {
  const text = ConfinedDir.with(dirname(file), (dir) => dir.readText(basename(file), MAX_STAGING_INFO));
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new SlipwayError('INVALID_DOCUMENT', `${file} is neither JSON nor YAML: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new SlipwayError('INVALID_DOCUMENT', `${file} is not a map of detected_buildpack, start_command`);
  const p = parsed as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const config = p['config'] && typeof p['config'] === 'object' ? (p['config'] as Record<string, unknown>) : undefined;
  const prefix = str(config?.['entrypoint_prefix']);
  return {
    ...(str(p['detected_buildpack']) !== undefined ? { detected_buildpack: str(p['detected_buildpack'])! } : {}),
    ...(str(p['start_command']) !== undefined ? { start_command: str(p['start_command'])! } : {}),
    ...(prefix ? { config: { entrypoint_prefix: prefix } } : {}),
  };
}

/** staging_info.yml as CF's builder writes it: JSON, `config` only when it has an entrypoint prefix. */
export function stagingInfoText(info: StagingInfo): string {
  return JSON.stringify({
    detected_buildpack: info.detected_buildpack ?? '',
    start_command: info.start_command ?? '',
    ...(info.config?.entrypoint_prefix ? { config: { entrypoint_prefix: info.config.entrypoint_prefix } } : {}),
  });
}
