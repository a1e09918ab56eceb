import { Command } from 'commander';
import { createBuilder, type CreateBuilderReport } from '../../stage/cnb/builder-image.js';
import { shortDigest } from '../format.js';
import { SlipwayError } from '../../errors.js';
import { withRegistryOptions, type RegistryFlags } from '../registry-options.js';
import { run } from '../run.js';
import { pullInto } from './build.js';

interface CreateFlags extends RegistryFlags {
  config: string;
  stack?: string;
  creationTime?: string;
}

export function builderCommand(): Command {
  const builder = new Command('builder')
    .description(
      "Make builder images: a stack's build image with buildpacks and an order, as pack builder create makes them",
    )
    .addHelpText(
      'after',
      `
A builder image is what "slipway build --builder IMAGE" (and pack) build in: the
buildpacks at /cnb/buildpacks/<id>/<version>/, /cnb/order.toml, /cnb/run.toml and the
io.buildpacks.builder.metadata, io.buildpacks.buildpack.layers and
io.buildpacks.buildpack.order labels.

Examples:
  $ slipway builder create builders/mine:1 --config builder.toml
  $ slipway build web:v1 --builder builders/mine:1`,
    );

  builder.addCommand(
    withRegistryOptions(
      new Command('create')
        .description("Make a builder image in the local store from pack's builder.toml")
        .argument('<name>', 'the builder image, NAME[:TAG] in the local store')
        .requiredOption(
          '-c, --config <file>',
          'builder.toml: [[buildpacks]] (uri = DIR, TGZ, .cnb, docker://IMAGE or NAME:TAG of a buildpackage; or id/version of a built-in), [[order]] groups, optional [[run.images]], [[extensions]] (uri = DIR of an image extension) and [[order-extensions]]',
        )
        .option(
          '--stack <name>',
          'the stack whose build image the builder extends and whose run image apps run on (default: the default stack)',
        )
        .option(
          '--creation-time <epoch>',
          'seconds since the epoch for the image and its files (default: SOURCE_DATE_EPOCH, else 1980-01-01T00:00:01Z)',
        ),
      'one',
    )
      .addHelpText(
        'after',
        `
The same builder.toml, buildpacks and stack give the same image digest.

Example builder.toml:
  description = "my builder"
  [[buildpacks]]
  uri = "buildpacks/hello"          # relative to builder.toml
  [[buildpacks]]
  id = "slipway/procfile"           # a built-in buildpack
  [[order]]
  [[order.group]]
  id = "example/hello"
  [[order.group]]
  id = "slipway/procfile"
  optional = true
  [[extensions]]                    # an image extension (extension.toml, bin/detect, bin/generate)
  uri = "extensions/gmp"
  [[order-extensions]]              # tried before each group; its Dockerfiles extend the images
  [[order-extensions.group]]
  id = "examples/gmp"

Examples:
  $ slipway builder create builders/mine:1 --config builder.toml
  $ slipway builder create builders/gmp --config builder.toml --stack gmp
  $ slipway builder create builders/cnb-gmp --config examples/cnb-gmp/builder.toml
  $ slipway push builders/mine:1 127.0.0.1:5000/builders/mine:1`,
      )
      .action(
        run(async (ctx, name: string, flags: CreateFlags) => {
          const progress = ctx.progress();
          const report = await createBuilder(await ctx.store(), name, {
            config: flags.config,
            ...(flags.stack ? { stack: flags.stack } : {}),
            ...(flags.creationTime ? { created: epoch(flags.creationTime) } : {}),
            pull: pullInto(ctx, flags, progress),
            progress,
          });
          ctx.print(report, () => summary(report));
        }),
      ),
  );
  return builder;
}

function epoch(value: string): number {
  if (!/^\d+$/.test(value))
    throw new SlipwayError('INVALID_ARGUMENT', `--creation-time "${value}" must be seconds since the epoch`);
  return Number(value);
}

function summary(r: CreateBuilderReport): string {
  return [
    `Created builder ${r.image}`,
    `digest ${r.digest}`,
    `stack ${r.stack.name} (version ${r.stack.version}), build image ${shortDigest(r.stack.build)}`,
    `run image ${r.runImage}`,
    'buildpacks:',
    ...r.buildpacks.map((b) => `  ${`${b.id}@${b.version}`.padEnd(40)} ${shortDigest(b.layerDiffID)}`),
    'order:',
    ...r.order.map(
      (g, i) =>
        `  ${i + 1}. ${g.map((e) => `${e.id}@${e.version ?? '*'}${e.optional ? ' (optional)' : ''}`).join(', ')}`,
    ),
    ...(r.extensions.length
      ? [
          'image extensions:',
          ...r.extensions.map((e) => `  ${`${e.id}@${e.version}`.padEnd(40)} ${shortDigest(e.layerDiffID)}`),
          'order-extensions:',
          ...r.orderExtensions.map((g, i) => `  ${i + 1}. ${g.map((e) => `${e.id}@${e.version ?? '*'}`).join(', ')}`),
        ]
      : []),
  ].join('\n');
}
