import { Command } from 'commander';
import { deleteRemote, digestOfReference, manifestOf } from '../../catalog/manifest.js';
import { listRepositoryTags } from '../../catalog/tags.js';
import { parsePlatform } from '../../oci/platform.js';
import { parseRegistryTransport, parseTransport } from '../../oci/transport.js';
import { REGISTRY_HELP, registriesFrom, withRegistryOptions, type RegistryFlags } from '../registry-options.js';
import { run } from '../run.js';

type QueryFlags = RegistryFlags & { platform?: string };

export function tagsCommand(): Command {
  return withRegistryOptions(
    new Command('tags')
      .description("List a repository's tags, in a registry or the local store")
      .argument('<repo>', 'HOST/NAME (a registry) or NAME (the local store)'),
  )
    .addHelpText(
      'after',
      `${REGISTRY_HELP}

Examples:
  $ slipway tags 127.0.0.1:5000/team/app
  $ slipway tags --json docker://registry.example/base`,
    )
    .action(
      run(async (ctx, repo: string, opts: RegistryFlags) => {
        const ref = parseTransport(repo);
        const tags = await listRepositoryTags(ref, ctx.store, registriesFrom(opts, { src: ref }));
        ctx.print(tags, () => tags.join('\n'));
      }),
    );
}

export function manifestCommand(): Command {
  return withRegistryOptions(
    new Command('manifest')
      .description('Print the exact manifest or index bytes an image reference names')
      .argument('<ref>', 'any image reference (registry, local store, oci:, oci-archive:)')
      .option('--platform <os/arch[/variant]>', "from an index, print this platform's image manifest"),
  )
    .addHelpText(
      'after',
      `${REGISTRY_HELP}

The bytes are printed as stored (their sha256 is the digest); --json is ignored.

Examples:
  $ slipway manifest 127.0.0.1:5000/team/app:v1 | jq .layers
  $ slipway manifest --platform linux/arm64 oci:/tmp/base:1`,
    )
    .action(
      run(async (ctx, ref: string, opts: QueryFlags) => {
        const source = parseTransport(ref);
        const { bytes } = await manifestOf(source, ctx.store, {
          registries: registriesFrom(opts, { src: source }),
          ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
        });
        process.stdout.write(bytes);
        if (process.stdout.isTTY && bytes[bytes.length - 1] !== 0x0a) process.stdout.write('\n');
      }),
    );
}

export function digestCommand(): Command {
  return withRegistryOptions(
    new Command('digest')
      .description('Print the digest an image reference names (one HEAD request for a registry)')
      .argument('<ref>', 'any image reference (registry, local store, oci:, oci-archive:)')
      .option('--platform <os/arch[/variant]>', "from an index, the digest of this platform's image"),
  )
    .addHelpText(
      'after',
      `${REGISTRY_HELP}

Examples:
  $ slipway digest 127.0.0.1:5000/team/app:v1
  $ slipway pull "registry.example/app@$(slipway digest registry.example/app:v1)"`,
    )
    .action(
      run(async (ctx, ref: string, opts: QueryFlags) => {
        const source = parseTransport(ref);
        const digest = await digestOfReference(source, ctx.store, {
          registries: registriesFrom(opts, { src: source }),
          ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
        });
        ctx.print({ digest }, () => digest);
      }),
    );
}

export function deleteCommand(): Command {
  return withRegistryOptions(
    new Command('delete')
      .description('Delete an image from a registry (the manifest, and with it every tag naming it)')
      .argument('<ref>', 'HOST/NAME:TAG or HOST/NAME@DIGEST'),
  )
    .addHelpText(
      'after',
      `${REGISTRY_HELP}

Registries delete manifests by digest: a tag is resolved first, so every tag on
the same manifest goes too. Blobs are reclaimed by the registry's garbage collection.
Local images are removed with \`slipway rm\`.

Example:
  $ slipway delete 127.0.0.1:5000/team/app:old`,
    )
    .action(
      run(async (ctx, ref: string, opts: RegistryFlags) => {
        const target = parseRegistryTransport(ref);
        const digest = await deleteRemote(target, registriesFrom(opts, { dst: target }));
        ctx.print({ deleted: digest }, () => `Deleted ${digest}`);
      }),
    );
}
