import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { parseTargets, type TargetDeclaration } from './targets.js';
import { optionalBool, optionalString, parseToml, stringList, table, tables } from './toml.js';

/** The Buildpack APIs this runner implements (buildpack.md 0.7 to 0.12). */
export const SUPPORTED_BUILDPACK_APIS = ['0.7', '0.8', '0.9', '0.10', '0.11', '0.12'] as const;

/** One entry of an order group: a buildpack by id (and version), maybe optional. */
export interface GroupEntry {
  id: string;
  version?: string;
  optional?: boolean;
}

export type Order = GroupEntry[][];

/** What `buildpack.toml` says (the fields a runner acts on). */
export interface BuildpackDescriptor {
  api: string;
  id: string;
  version: string;
  name?: string;
  homepage?: string;
  clearEnv: boolean;
  /** Composite buildpacks: their order; component buildpacks have none. */
  order?: Order;
  /** Directory holding buildpack.toml (and bin/ for a component buildpack). */
  dir: string;
  /** `[[targets]]` and the deprecated `[[stacks]]` ids (absent: runs anywhere). */
  targets?: TargetDeclaration;
  /** Whether bin/build exists (the lifecycle infers `os = "linux"` from it when no target is declared). */
  binBuild?: boolean;
  /** `buildpack.sbom-formats`: the SBOM media types the buildpack may write (API >= 0.7). */
  sbomFormats?: string[];
  /**
   * `[metadata.slipway] detect-inputs`: the only app files (top-level names) bin/detect
   * reads. When every buildpack of an order says so, a large app is copied in after
   * detection passes, so a wrong buildpack fails before the copy.
   */
  detectInputs?: string[];
}

const RESERVED_IDS = new Set(['app', 'config', 'generated', 'sbom']);

/** Reads and checks `<dir>/buildpack.toml`. */
export async function readBuildpackDescriptor(dir: string): Promise<BuildpackDescriptor> {
  const file = join(dir, 'buildpack.toml');
  const text = await readFile(file, 'utf8').catch((err) => {
    throw new SlipwayError('NOT_FOUND', `${dir} is not a buildpack: it has no buildpack.toml`, {
      cause: err,
      detail: { dir },
    });
  });
  return parseBuildpackDescriptor(text, dir);
}

export function parseBuildpackDescriptor(text: string, dir: string): BuildpackDescriptor {
  const what = join(dir, 'buildpack.toml');
  const doc = parseToml(text, what);
  const api = String(doc['api'] ?? '');
  if (api === '' && ['compile', 'supply', 'finalize'].some((s) => existsSync(join(dir, 'bin', s))))
    throw new SlipwayError(
      'UNSUPPORTED',
      `${what} has no api: this is a Cloud Foundry / Heroku buildpack (bin/compile, bin/supply or bin/finalize), not a Cloud Native Buildpack; stage it with --classic, or on its own with -b`,
      { detail: { dir, exitCode: 12 } },
    );
  if (!(SUPPORTED_BUILDPACK_APIS as readonly string[]).includes(api)) {
    throw new SlipwayError(
      'UNSUPPORTED',
      `${what}: Buildpack API "${api}" is not supported (supported: ${SUPPORTED_BUILDPACK_APIS.join(', ')})`,
      { detail: { api, exitCode: 12 } },
    );
  }
  const bp = table(doc['buildpack'], `${what} [buildpack]`);
  const id = optionalString(bp['id'], `${what} buildpack.id`);
  const version = optionalString(bp['version'], `${what} buildpack.version`);
  if (!id || !/^[A-Za-z0-9./-]+$/.test(id) || RESERVED_IDS.has(id))
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `${what}: buildpack.id "${id ?? ''}" must be letters, digits, ".", "/" or "-" and not one of ${[...RESERVED_IDS].join(', ')}`,
    );
  if (!version) throw new SlipwayError('INVALID_DOCUMENT', `${what}: buildpack.version is required`);
  const order = doc['order'] === undefined ? undefined : parseOrder(doc['order'], `${what} [[order]]`);
  const name = optionalString(bp['name'], `${what} buildpack.name`);
  const homepage = optionalString(bp['homepage'], `${what} buildpack.homepage`);
  const sbomFormats = stringList(bp['sbom-formats'], `${what} buildpack.sbom-formats`) ?? [];
  const detectInputs = slipwayDetectInputs(doc['metadata'], what);
  return {
    api,
    id,
    version,
    dir,
    clearEnv: optionalBool(bp['clear-env'], `${what} buildpack.clear-env`) ?? false,
    targets: parseTargets(doc, what),
    binBuild: existsSync(join(dir, 'bin', 'build')),
    sbomFormats,
    ...(name !== undefined ? { name } : {}),
    ...(homepage !== undefined ? { homepage } : {}),
    ...(order ? { order } : {}),
    ...(detectInputs ? { detectInputs } : {}),
  };
}

function slipwayDetectInputs(metadata: unknown, what: string): string[] | undefined {
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const slipway = (metadata as Record<string, unknown>)['slipway'];
  if (slipway === undefined) return undefined;
  const inputs = stringList(
    table(slipway, `${what} [metadata.slipway]`)['detect-inputs'],
    `${what} metadata.slipway.detect-inputs`,
  );
  for (const name of inputs ?? [])
    if (!name || name.includes('/') || name === '.' || name === '..')
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `${what}: metadata.slipway.detect-inputs names "${name}": give top-level file names of the app`,
      );
  return inputs;
}

/** `[[order]] [[order.group]] id version optional`, as in buildpack.toml and order.toml. */
export function parseOrder(value: unknown, what: string): Order {
  return tables(value, what).map((o, i) =>
    tables(o['group'], `${what}[${i}].group`).map((g, j) => {
      const id = optionalString(g['id'], `${what}[${i}].group[${j}].id`);
      if (!id) throw new SlipwayError('INVALID_DOCUMENT', `${what}[${i}].group[${j}] has no id`);
      const version = optionalString(g['version'], `${what}[${i}].group[${j}].version`);
      const optional = optionalBool(g['optional'], `${what}[${i}].group[${j}].optional`);
      return { id, ...(version !== undefined ? { version } : {}), ...(optional ? { optional } : {}) };
    }),
  );
}

/** The path component of an id: `/` becomes `_` (lifecycle's EscapeID). */
export function escapeId(id: string): string {
  return id.replaceAll('/', '_');
}

/** API "0.10" as a comparable number pair. */
export function apiAtLeast(api: string, min: string): boolean {
  const [a1, a2] = api.split('.').map(Number) as [number, number];
  const [b1, b2] = min.split('.').map(Number) as [number, number];
  return a1 !== b1 ? a1 > b1 : (a2 ?? 0) >= (b2 ?? 0);
}
