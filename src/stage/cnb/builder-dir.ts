import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { parseBuilderToml, type BuilderBuildpack } from '../../buildpack/cnb/builder-toml.js';
import { parseOrder, type Order } from '../../buildpack/cnb/buildpack-descriptor.js';
import { parseToml } from '../../buildpack/cnb/toml.js';

/** What a builder on the filesystem gives a staging. */
export interface BuilderDir {
  /** The builder.toml or order.toml read. */
  file: string;
  order: Order;
  orderExtensions: Order;
  /** Buildpack directories and tarballs its `[[buildpacks]] uri`s name. */
  buildpackPaths: string[];
  /** Extension directories its `[[extensions]] uri`s name. */
  extensionPaths: string[];
  /** A directory to scan for buildpacks: an order.toml builder's, or a builder.toml's that names no uri. */
  scan?: string;
}

/**
 * Reads a builder given as a directory (holding builder.toml or order.toml) or as the
 * path of its builder.toml. A builder.toml's `[[buildpacks]]` and `[[extensions]]`
 * are taken by their `uri` (relative to the toml, as pack takes them), wherever they
 * are; an entry with only an id names a built-in buildpack.
 *
 * @example
 *   const b = readBuilderDir('builders/gmp/builder.toml');
 */
export function readBuilderDir(path: string): BuilderDir {
  const full = resolve(path);
  if (!existsSync(full))
    throw new SlipwayError(
      'NOT_FOUND',
      `builder ${path} does not exist: give a directory with builder.toml, or the builder.toml`,
      {
        detail: { builder: path },
      },
    );
  let file: string | undefined;
  if (statSync(full).isFile()) {
    if (!basename(full).endsWith('.toml'))
      throw new SlipwayError(
        'INVALID_ARGUMENT',
        `builder ${path} is a file but not a builder.toml: give a builder directory, a builder.toml, or a builder image`,
        { detail: { builder: path } },
      );
    file = full;
  } else {
    file = ['builder.toml', 'order.toml'].map((n) => join(full, n)).find((f) => existsSync(f));
    if (!file)
      throw new SlipwayError('NOT_FOUND', `builder ${path} has no builder.toml or order.toml`, {
        detail: { builder: path },
      });
  }
  const text = readFileSync(file, 'utf8');
  if (basename(file) === 'order.toml') {
    const doc = parseToml(text, file);
    return {
      file,
      order: parseOrder(doc['order'], `${file} [[order]]`),
      orderExtensions: parseOrder(doc['order-extensions'] ?? [], `${file} [[order-extensions]]`),
      buildpackPaths: [],
      extensionPaths: [],
      scan: dirname(file),
    };
  }
  const config = parseBuilderToml(text, file);
  const buildpackPaths = localUris(config.buildpacks, file, 'buildpacks');
  const extensionPaths = localUris(config.extensions, file, 'extensions');
  return {
    file,
    order: config.order,
    orderExtensions: config.orderExtensions,
    buildpackPaths,
    extensionPaths,
    ...(config.buildpacks.some((b) => b.uri) ? {} : { scan: dirname(file) }),
  };
}

/** The uris that are paths here; an image uri needs a builder image (builder create), said so. */
function localUris(entries: BuilderBuildpack[], file: string, key: string): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (!e.uri) continue;
    if (/^[a-z]+:\/\//.test(e.uri) || !existsSync(e.uri))
      throw new SlipwayError(
        existsSync(e.uri) ? 'UNSUPPORTED' : 'NOT_FOUND',
        /^[a-z]+:\/\//.test(e.uri)
          ? `${file} [[${key}]] uri "${e.rawUri}" is an image: make a builder image with slipway builder create --config ${file}, then build with --builder IMAGE`
          : `${file} [[${key}]] uri "${e.rawUri}" does not exist (${e.uri}; a relative uri is relative to the builder.toml)`,
        { detail: { file, uri: e.rawUri } },
      );
    out.push(e.uri);
  }
  return out;
}
