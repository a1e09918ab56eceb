import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { optionalString, parseToml, table } from '../cnb/toml.js';

/** The scripts that make a directory a classic (CF v2 / Heroku) buildpack. */
const CLASSIC_SCRIPTS = ['compile', 'supply', 'finalize'] as const;

/**
 * True for a directory that is a classic buildpack: bin/compile, bin/supply or
 * bin/finalize, no bin/build, and either no buildpack.toml or one without `api`.
 * Heroku's own buildpacks (nodejs, apt, python, ruby, ...) ship a buildpack.toml for
 * Heroku's buildpack registry (`[buildpack] name`, `[publish.Ignore] files`) that has
 * no `api` and no id: that file does not make them Cloud Native Buildpacks.
 *
 * @example isClassicBuildpackDir('heroku-buildpack-apt') // true: bin/compile and a registry buildpack.toml
 */
export function isClassicBuildpackDir(dir: string): boolean {
  if (!CLASSIC_SCRIPTS.some((s) => existsSync(join(dir, 'bin', s)))) return false;
  if (existsSync(join(dir, 'bin', 'build'))) return false;
  const toml = registryToml(dir);
  return toml === undefined || toml.api === undefined;
}

/** The `[buildpack] name` of a Heroku registry buildpack.toml (undefined without one). */
export function herokuBuildpackName(dir: string): string | undefined {
  return registryToml(dir)?.name;
}

/** What a buildpack.toml says that tells the two APIs apart; undefined when there is none, or it is not TOML. */
function registryToml(dir: string): { api?: string; name?: string } | undefined {
  const file = join(dir, 'buildpack.toml');
  if (!existsSync(file)) return undefined;
  try {
    const doc = parseToml(readFileSync(file, 'utf8'), file);
    const api = doc['api'];
    const name = optionalString(table(doc['buildpack'], `${file} [buildpack]`)['name'], `${file} buildpack.name`);
    return { ...(api !== undefined ? { api: String(api) } : {}), ...(name !== undefined ? { name } : {}) };
  } catch {
    // Not TOML: the CNB reader reports it if the buildpack is used as one.
    return { api: '?' };
  }
}
