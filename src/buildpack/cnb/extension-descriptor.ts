import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { escapeId, type BuildpackDescriptor, type GroupEntry } from './buildpack-descriptor.js';
import { parseTargets } from './targets.js';
import { optionalBool, optionalString, parseToml, table } from './toml.js';

/** Image extensions came with Buildpack API 0.10 (image_extension.md); older APIs have none. */
export const SUPPORTED_EXTENSION_APIS = ['0.10', '0.11', '0.12'] as const;

/** Where extensions are mounted in the build container (platform.md's /cnb/extensions). */
export const EXTENSIONS_DIR = '/cnb/extensions';

/**
 * What `extension.toml` says. It has a buildpack's shape (id, version, api, targets)
 * so detect and plan resolution treat both alike; `kind` tells them apart.
 */
export interface ExtensionDescriptor extends BuildpackDescriptor {
  kind: 'extension';
}

export function isExtension(bp: BuildpackDescriptor): bp is ExtensionDescriptor {
  return (bp as Partial<ExtensionDescriptor>).kind === 'extension';
}

/** Where an extension is mounted in the build container. */
export function extensionPath(ext: ExtensionDescriptor): string {
  return `${EXTENSIONS_DIR}/${escapeId(ext.id)}/${ext.version}`;
}

/** Reads and checks `<dir>/extension.toml`. */
export async function readExtensionDescriptor(dir: string): Promise<ExtensionDescriptor> {
  const file = join(dir, 'extension.toml');
  const text = await readFile(file, 'utf8').catch((err) => {
    throw new SlipwayError('NOT_FOUND', `${dir} is not an image extension: it has no extension.toml`, {
      cause: err,
      detail: { dir },
    });
  });
  return parseExtensionDescriptor(text, dir);
}

/**
 * Parses extension.toml (image_extension.md "extension.toml"): `api` (0.10 or later),
 * `[extension] id, version`, optional `[[targets]]`.
 *
 * @example
 *   parseExtensionDescriptor('api = "0.10"\n[extension]\nid = "x/gmp"\nversion = "1.0.0"\n', '/ext/gmp')
 */
export function parseExtensionDescriptor(text: string, dir: string): ExtensionDescriptor {
  const what = join(dir, 'extension.toml');
  const doc = parseToml(text, what);
  const api = String(doc['api'] ?? '');
  if (!(SUPPORTED_EXTENSION_APIS as readonly string[]).includes(api))
    throw new SlipwayError(
      'UNSUPPORTED',
      `${what}: Buildpack API "${api}" is not supported for image extensions (supported: ${SUPPORTED_EXTENSION_APIS.join(', ')}; extensions need 0.10 or later)`,
      { detail: { api, exitCode: 12 } },
    );
  const ext = table(doc['extension'], `${what} [extension]`);
  const id = optionalString(ext['id'], `${what} extension.id`);
  const version = optionalString(ext['version'], `${what} extension.version`);
  if (!id || !/^[A-Za-z0-9./-]+$/.test(id))
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `${what}: extension.id "${id ?? ''}" must be letters, digits, ".", "/" or "-"`,
    );
  if (!version) throw new SlipwayError('INVALID_DOCUMENT', `${what}: extension.version is required`);
  if (doc['order'] !== undefined)
    throw new SlipwayError('INVALID_DOCUMENT', `${what}: an image extension cannot have an [[order]]`);
  const name = optionalString(ext['name'], `${what} extension.name`);
  return {
    kind: 'extension',
    api,
    id,
    version,
    dir,
    clearEnv: optionalBool(ext['clear-env'], `${what} extension.clear-env`) ?? false,
    targets: parseTargets(doc, what),
    binBuild: false,
    sbomFormats: [],
    ...(name !== undefined ? { name } : {}),
  };
}

/** The image extensions a build can use, by id and version: those under some directories and those added by path. */
export class ExtensionSet {
  readonly #all: ExtensionDescriptor[] = [];

  get all(): readonly ExtensionDescriptor[] {
    return this.#all;
  }

  /** Adds every extension directory (holding extension.toml) at most `depth` levels under `root`. */
  async addTree(root: string, depth = 3): Promise<void> {
    if (!existsSync(root)) return;
    if (existsSync(join(root, 'extension.toml'))) {
      this.#add(await readExtensionDescriptor(root));
      return;
    }
    if (depth === 0) return;
    for (const name of readdirSync(root).sort()) {
      const path = join(root, name);
      if (statSync(path).isDirectory()) await this.addTree(path, depth - 1);
    }
  }

  /** Adds the extension in directory `path`. */
  async addPath(path: string): Promise<ExtensionDescriptor> {
    const ext = await readExtensionDescriptor(resolve(path));
    this.#add(ext);
    return ext;
  }

  /** The extension `entry` names (the highest version when it names none); NOT_FOUND listing what there is. */
  find(entry: GroupEntry): ExtensionDescriptor {
    const candidates = this.#all.filter((e) => e.id === entry.id);
    const found =
      entry.version === undefined
        ? [...candidates].sort((a, b) => b.version.localeCompare(a.version, 'en', { numeric: true }))[0]
        : candidates.find((e) => e.version === entry.version);
    if (!found) {
      const what = entry.version === undefined ? entry.id : `${entry.id}@${entry.version}`;
      throw new SlipwayError(
        'NOT_FOUND',
        `image extension ${what} of [[order-extensions]] is not available${candidates.length ? ` (versions here: ${candidates.map((c) => c.version).join(', ')})` : ''}; list it in the builder's [[extensions]]`,
        { detail: { id: entry.id, version: entry.version } },
      );
    }
    return found;
  }

  #add(ext: ExtensionDescriptor): void {
    const i = this.#all.findIndex((e) => e.id === ext.id && e.version === ext.version);
    if (i >= 0) this.#all.splice(i, 1);
    this.#all.push(ext);
  }
}
