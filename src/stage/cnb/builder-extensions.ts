import { SlipwayError } from '../../errors.js';
import type { BuilderConfig } from '../../buildpack/cnb/builder-toml.js';
import { ExtensionSet } from '../../buildpack/cnb/extension-descriptor.js';

/** pack's labels for a builder's image extensions (their layers, and [[order-extensions]]). */
export const EXTENSION_LAYERS_LABEL = 'io.buildpacks.extension.layers';
export const EXTENSION_ORDER_LABEL = 'io.buildpacks.buildpack.order-extensions';

/** The image extensions a builder.toml names by uri (directories); an id alone names none Slipway has. */
export async function builderExtensions(config: BuilderConfig): Promise<ExtensionSet> {
  const set = new ExtensionSet();
  for (const entry of config.extensions) {
    if (!entry.uri || /^[a-z][a-z0-9+.-]*:\/\//i.test(entry.uri))
      throw new SlipwayError(
        'UNSUPPORTED',
        `builder extension ${entry.rawUri ?? entry.id}: give the extension's directory as uri (Slipway has no built-in extensions, and takes no extension images yet)`,
        { detail: { uri: entry.rawUri, id: entry.id } },
      );
    await set.addPath(entry.uri);
  }
  return set;
}
