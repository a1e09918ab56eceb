import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { SlipwayError } from '../errors.js';
import type { StagingInfo } from './layout.js';

/**
 * Reads a droplet's staging_info.yml. CF writes it as JSON, which is YAML too, so a
 * YAML parser reads both CF's file and a hand-written YAML one. A droplet without
 * it is valid (the launcher then needs a command).
 */
export function readStagingInfo(file: string): StagingInfo {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SlipwayError('INVALID_DOCUMENT', `${file} is neither JSON nor YAML: ${(err as Error).message}`, { cause: err });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new SlipwayError('INVALID_DOCUMENT', `${file} is not a map of detected_buildpack, start_command`);
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
