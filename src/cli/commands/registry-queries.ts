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
      .description('Delete a tag, or an image with all its tags, from a registry')
      .argument('<ref>', 'HOST/NAME:TAG (that tag only) or HOST/NAME@DIGEST (the image and every tag on it)')
      .option('--all-tags', 'with HOST/NAME:TAG, delete the image the tag names, and every tag on it'),
  )
    .addHelpText(
      'after',
      `${REGISTRY_HELP}

HOST/NAME:TAG removes that tag only: the image and its other tags stay (a registry
that cannot delete tags gets the tag moved to a placeholder, which is then deleted).
HOST/NAME@DIGEST, or --all-tags, removes the image, and the output lists the tags
that went with it. Blobs are reclaimed by the registry's garbage collection. Local
images are removed with \`slipway rmi\`.

Examples:
  $ slipway delete 127.0.0.1:5000/team/app:old
  $ slipway delete --all-tags 127.0.0.1:5000/team/app:old`,
    )
    .action(
      run(async (ctx, ref: string, opts: RegistryFlags & { allTags?: boolean }) => {
        const target = parseRegistryTransport(ref);
        if (target.transport !== 'docker') {
          await deleteRemote(target); // refuses, naming rmi
          return;
        }
        const report = await deleteRemote(target, registriesFrom(opts, { dst: target }), {
          allTags: opts.allTags ?? false,
        });
        const repo = `${target.reference.domain}/${target.reference.path}`;
        ctx.print(report, () =>
          [
            ...report.untagged.map((t) => `Untagged: ${repo}:${t}`),
            ...report.deleted.map((d) => `Deleted: ${repo}@${d}`),
            ...(report.deleted.length === 0 ? [`(${repo}@${report.digest} stays, with any other tags)`] : []),
          ].join('\n'),
        );
      }),
    );
}
