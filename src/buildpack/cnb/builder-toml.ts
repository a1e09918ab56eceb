import { dirname, resolve } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { parseOrder, type Order } from './buildpack-descriptor.js';
import { optionalString, parseToml, stringList, table, tables } from './toml.js';

/** One `[[buildpacks]]` entry of pack's builder.toml: a uri, or an id (and version) of a buildpack Slipway has. */
export interface BuilderBuildpack {
  id?: string;
  version?: string;
  /** A directory or tarball (absolute: resolved against the toml's directory), or an image (docker://REF, NAME[:TAG]). */
  uri?: string;
  /** The uri as written (a name that is no path here may be a local image). */
  rawUri?: string;
}

/** What Slipway acts on in pack's builder.toml (buildpacks.io "builder.toml" schema). */
export interface BuilderConfig {
  description: string;
  buildpacks: BuilderBuildpack[];
  order: Order;
  /** `[[extensions]]`: image extensions, by uri (a directory) or id, as `[[buildpacks]]`. */
  extensions: BuilderBuildpack[];
  /** `[[order-extensions]]`: groups of image extensions, tried before each buildpack group (all optional). */
  orderExtensions: Order;
  /** The run images named by `[[run.images]]` (or the older `[stack] run-image`): the first is used. */
  runImages: { image: string; mirrors: string[] }[];
  /** `[stack] id`, when given. */
  stackId?: string;
  lifecycleVersion?: string;
}

/**
 * Parses pack's builder.toml. A relative `uri` is made absolute against `dir` (the
 * toml's directory) as pack does; `file://` is a path; `docker://` and image names stay as they are.
 *
 * @example
 *   parseBuilderToml('[[buildpacks]]\nuri = "bp"\n[[order]]\n[[order.group]]\nid = "x"\n', '/b/builder.toml')
 */
export function parseBuilderToml(text: string, file: string): BuilderConfig {
  const doc = parseToml(text, file);
  const dir = dirname(resolve(file));
  const buildpacks = entries(doc['buildpacks'], 'buildpacks', file, dir);
  const extensions = entries(doc['extensions'], 'extensions', file, dir);
  const order = parseOrder(doc['order'] ?? [], `${file} [[order]]`);
  if (order.length === 0)
    throw new SlipwayError('INVALID_DOCUMENT', `${file} has no [[order]] groups`, { detail: { file } });
  const stack = table(doc['stack'] ?? {}, `${file} [stack]`);
  const run = table(doc['run'] ?? {}, `${file} [run]`);
  const runImages = tables(run['images'], `${file} [[run.images]]`).map((r, i) => {
    const image = optionalString(r['image'], `${file} run.images[${i}].image`);
    if (!image) throw new SlipwayError('INVALID_DOCUMENT', `${file} run.images[${i}] has no image`);
    return { image, mirrors: stringList(r['mirrors'], `${file} run.images[${i}].mirrors`) ?? [] };
  });
  const stackRun = optionalString(stack['run-image'], `${file} stack.run-image`);
  if (runImages.length === 0 && stackRun)
    runImages.push({
      image: stackRun,
      mirrors: stringList(stack['run-image-mirrors'], `${file} stack.run-image-mirrors`) ?? [],
    });
  const stackId = optionalString(stack['id'], `${file} stack.id`);
  const lifecycleVersion = optionalString(
    table(doc['lifecycle'] ?? {}, `${file} [lifecycle]`)['version'],
    `${file} lifecycle.version`,
  );
  return {
    description: optionalString(doc['description'], `${file} description`) ?? '',
    buildpacks,
    order,
    extensions,
    orderExtensions: parseOrder(doc['order-extensions'] ?? [], `${file} [[order-extensions]]`),
    runImages,
    ...(stackId ? { stackId } : {}),
    ...(lifecycleVersion ? { lifecycleVersion } : {}),
  };
}

/** `[[buildpacks]]` or `[[extensions]]` entries: a uri (resolved against the toml's directory) or an id and version. */
function entries(value: unknown, key: string, file: string, dir: string): BuilderBuildpack[] {
  return tables(value, `${file} [[${key}]]`).map((b, i) => {
    const what = `${file} ${key}[${i}]`;
    const id = optionalString(b['id'], `${what}.id`);
    const version = optionalString(b['version'], `${what}.version`);
    // Older pack builder.toml names a buildpackage image with `image`.
    const image = optionalString(b['image'], `${what}.image`);
    const uri = optionalString(b['uri'], `${what}.uri`);
    if (image && !uri) return { ...(id ? { id } : {}), uri: image, rawUri: image };
    if (!id && !uri)
      throw new SlipwayError('INVALID_DOCUMENT', `${what} needs a uri or an id`, { detail: { file, index: i } });
    return {
      ...(id ? { id } : {}),
      ...(version ? { version } : {}),
      ...(uri ? { uri: resolveUri(uri, dir), rawUri: uri } : {}),
    };
  });
}

function resolveUri(uri: string, dir: string): string {
  if (uri.startsWith('docker://') || (/^[a-z]+:\/\//.test(uri) && !uri.startsWith('file://'))) return uri;
  return resolve(dir, uri.replace(/^file:\/\//, ''));
}
