import { parse as parseYaml } from 'yaml';
import type { TreeReader } from '../tree-reader.js';
import { ClassicExit, ClassicStageError } from './classic-error.js';

/** `bin/release` output: only default_process_types counts (CF ignores config_vars and addons). */
export function parseRelease(text: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ClassicStageError(ClassicExit.Release, `buildpack's release output invalid: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ClassicStageError(ClassicExit.Release, "buildpack's release output invalid: not a YAML map");
  return stringMap((parsed as Record<string, unknown>)['default_process_types']);
}

/** `deps/IDX/launch.yml` processes (sidecars, those with platforms.cloudfoundry.sidecar_for, are not process types). */
export function readLaunchYml(tree: TreeReader, file: string): Record<string, string> | undefined {
  const text = tree.readText(file);
  if (text === undefined) return undefined;
  const parsed = parseYaml(text) as {
    processes?: { type?: unknown; command?: unknown; platforms?: { cloudfoundry?: { sidecar_for?: unknown } } }[];
  } | null;
  const out: Record<string, string> = {};
  for (const p of parsed?.processes ?? []) {
    if (p.platforms?.cloudfoundry?.sidecar_for) continue;
    if (typeof p.type === 'string' && typeof p.command === 'string') out[p.type] = p.command;
  }
  return out;
}

/** The app's Procfile, a YAML map of type: command; invalid YAML is the builder's exit 1. */
export function readProcfile(tree: TreeReader, file: string): Record<string, string> {
  const text = tree.readText(file);
  if (text === undefined) return {};
  try {
    return stringMap(parseYaml(text));
  } catch (err) {
    if (err instanceof ClassicStageError) throw err;
    throw new ClassicStageError(ClassicExit.Other, 'Failed to read command from Procfile: invalid YAML');
  }
}

/** `deps/IDX/config.yml`: name, version, config of the buildpack (core-buildpack contract). */
export function readDepsConfig(
  tree: TreeReader,
  file: string,
): { name?: string; version?: string; config?: Record<string, unknown> } {
  const text = tree.readText(file);
  if (text === undefined) return {};
  try {
    const parsed = parseYaml(text) as Record<string, unknown> | null;
    if (!parsed || typeof parsed !== 'object') return {};
    return {
      ...(typeof parsed['name'] === 'string' ? { name: parsed['name'] } : {}),
      ...(typeof parsed['version'] === 'string' || typeof parsed['version'] === 'number'
        ? { version: String(parsed['version']) }
        : {}),
      ...(parsed['config'] && typeof parsed['config'] === 'object'
        ? { config: parsed['config'] as Record<string, unknown> }
        : {}),
    };
  } catch {
    return {};
  }
}

function stringMap(value: unknown): Record<string, string> {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new ClassicStageError(ClassicExit.Other, 'Failed to read command from Procfile: invalid YAML');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number') out[k] = String(v);
  }
  return out;
}
