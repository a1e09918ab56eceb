import { Command } from 'commander';
import { SlipwayError } from '../../errors.js';
import { packageBuildpack } from '../../stage/cnb/buildpackage.js';
import { shortDigest } from '../format.js';
import { withRegistryOptions, type RegistryFlags } from '../registry-options.js';
import { run } from '../run.js';
import { pullInto } from './build.js';

export function buildpackCommand(): Command {
  const buildpack = new Command('buildpack')
    .description('Package buildpacks as images (buildpackages), as pack buildpack package does')
    .addHelpText(
      'after',
      `
Examples:
  $ slipway buildpack package bp/hello:1 --path ./hello-buildpack
  $ slipway copy bp/hello:1 oci-archive:hello.cnb       # a .cnb file
  $ slipway build app -b bp/hello:1`,
    );

  buildpack.addCommand(
    withRegistryOptions(
      new Command('package')
        .description(
          'Make a buildpackage image in the local store: one layer per buildpack at /cnb/buildpacks/<id>/<version>/',
        )
        .argument('<name>', 'the buildpackage image, NAME[:TAG] in the local store')
        .option('-p, --path <dir|tgz>', 'the buildpack (a directory with buildpack.toml, or a .tgz of one)')
        .option(
          '-c, --config <package.toml>',
          "pack's package.toml: [buildpack] uri, and [[dependencies]] uri (a directory, .tgz or .cnb) or image, for a composite",
        )
        .option(
          '--creation-time <epoch>',
          'seconds since the epoch for the image and its files (default: SOURCE_DATE_EPOCH, else 1980-01-01T00:00:01Z)',
        )
        .addHelpText(
          'after',
          `
The image carries the io.buildpacks.buildpackage.metadata and
io.buildpacks.buildpack.layers labels; use it with build -b NAME:TAG, in a
builder.toml [[buildpacks]] uri, or push it to a registry. A composite buildpack
is packaged with its components, given as package.toml [[dependencies]]: as pack
does, every buildpack its order names (with a version) must be among them, and
every dependency must be named by some order.

Examples:
  $ slipway buildpack package bp/hello:1 --path ./hello-buildpack
  $ slipway buildpack package bp/meta:1 --config ./meta/package.toml
  $ slipway push bp/hello:1 127.0.0.1:5000/bp/hello:1`,
        ),
    ).action(
      run(
        async (ctx, name: string, flags: RegistryFlags & { path?: string; config?: string; creationTime?: string }) => {
          if (flags.creationTime !== undefined && !/^\d+$/.test(flags.creationTime))
            throw new SlipwayError(
              'INVALID_ARGUMENT',
              `--creation-time "${flags.creationTime}" must be seconds since the epoch`,
            );
          const report = await packageBuildpack(await ctx.store(), name, {
            ...(flags.path ? { path: flags.path } : {}),
            ...(flags.config ? { config: flags.config } : {}),
            ...(flags.creationTime ? { created: Number(flags.creationTime) } : {}),
            pull: pullInto(ctx, flags, ctx.progress()),
          });
          ctx.print(report, () =>
            [
              `Packaged ${report.id}@${report.version} as ${report.image}`,
              `digest ${report.digest}`,
              ...report.buildpacks.map((b) => `layer ${shortDigest(b.layerDiffID)} ${b.id}@${b.version}`),
            ].join('\n'),
          );
        },
      ),
    ),
  );
  return buildpack;
}
