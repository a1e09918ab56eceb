import { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { exportDroplet } from '../../droplet/export.js';
import { importDroplet } from '../../droplet/import.js';
import { parseLocalName } from '../../oci/reference.js';
import { SlipwayError } from '../../errors.js';
import { readLocal } from '../../transport/local.js';
import { formatBytes, sbomLine, shortDigest } from '../format.js';
import { run } from '../run.js';
import type { CliContext } from '../context.js';
import { sandboxFrom, type SandboxFlags } from '../sandbox-options.js';
import { downloadDropletCommand } from './cf/download-droplet.js';
import { stageClassic } from '../../stage/classic/stage-classic.js';
import { fullFsOptIn, stageFullFs } from '../../stage/classic/full-fs-stage.js';

export function dropletCommand(): Command {
  const droplet = new Command('droplet')
    .description(
      "Cloud Foundry droplets as OCI images: import a droplet tarball, export an image back to one, download an app's droplet from slipway serve",
    )
    .addHelpText(
      'after',
      `
Examples:
  $ cf curl /v3/droplets/$GUID/download > web.tgz
  $ slipway droplet import web.tgz apps/web:v1 --stack default && slipway run --port 8080 apps/web:v1
  $ slipway droplet export apps/web:v1 -o web-again.tgz
  $ slipway copy droplet:web.tgz oci:/tmp/layout:web
  $ slipway droplet download web --to oci-archive:web.tar   # an app's droplet on slipway serve`,
    );

  // The platform's droplet of an app (as `slipway cf download-droplet`), where a droplet user looks for it.
  droplet.addCommand(downloadDropletCommand().name('download'));

  droplet
    .command('import')
    .description(
      "Make an image of a CF droplet: the stack's run image, the droplet at /home/vcap (root, each deps/IDX, app: one layer each), a CF launcher",
    )
    .argument('<droplet>', 'the droplet tarball (gzip tar of ./app, ./deps, ./profile.d, ./staging_info.yml, ...)')
    .argument('<image>', 'NAME[:TAG] in the local store')
    .option('--stack <name>', 'the stack whose run image is the base (default: the default stack)')
    .option('--process-types <file>', 'process types: a Procfile-style YAML map, bin/release output, or CF result.json')
    .addHelpText(
      'after',
      `
The start command is staging_info.yml's start_command (process type web); the image
runs it through /cf/lifecycle/launcher, as CF's launcher does (HOME=/home/vcap/app,
TMPDIR, DEPS_DIR, PORT=8080, profile.d, .profile.d, .profile, then bash -c).
Importing the same droplet always gives the same digest.

Examples:
  $ slipway droplet import web.tgz apps/web:v1 --stack default
  $ slipway droplet import web.tgz apps/web:v1 --process-types result.json
  $ slipway run --process worker apps/web:v1`,
    )
    .action(
      run(async (ctx, file: string, image: string, flags: { stack?: string; processTypes?: string }) => {
        const report = await importDroplet(await ctx.store(), file, image, {
          ...(flags.stack ? { stack: flags.stack } : {}),
          ...(flags.processTypes ? { processTypesFile: flags.processTypes } : {}),
          progress: ctx.progress(),
        });
        ctx.print(report, () =>
          [
            `${report.repository}:${report.tag} ${report.digest}`,
            `  stack ${report.stack.name} ${report.stack.version} (run ${shortDigest(report.stack.run)})`,
            ...report.layers.map(
              (l) =>
                `  ${l.name.padEnd(14)} ${shortDigest(l.digest)} ${formatBytes(l.size)}${l.reused ? ' (stored already)' : ''}`,
            ),
            ...Object.entries(report.processTypes).map(([t, c]) => `  process ${t}: ${c}`),
          ].join('\n'),
        );
      }),
    );

  droplet
    .command('export')
    .description('Write the droplet of an image (imported or classic-staged) as a CF droplet tarball')
    .argument('<image>', 'NAME[:TAG] in the local store')
    .requiredOption('-o, --output <file>', 'the droplet tarball to write')
    .addHelpText(
      'after',
      `
The tarball has CF's layout (./app, ./deps/IDX, ./profile.d, ./staging_info.yml,
./tmp, ./logs), so cf curl -X POST /v3/packages/GUID/droplets takes it; importing it
on the same stack gives the same image digest.

Example:
  $ slipway droplet export apps/web:v1 -o web.tgz`,
    )
    .action(
      run(async (ctx, image: string, flags: { output: string }) => {
        const store = await ctx.store();
        const { name, tag, digest } = parseLocalName(image);
        const { artifact } = await readLocal(store, name, digest ?? tag ?? 'latest');
        if (artifact.kind !== 'image')
          throw new SlipwayError('UNSUPPORTED', `${image} is an index: export one of its images`);
        const tmp = join(store.home, 'tmp');
        mkdirSync(tmp, { recursive: true });
        const report = await exportDroplet(artifact.image, image, flags.output, tmp);
        ctx.print(
          report,
          () =>
            `${report.file} ${formatBytes(report.size)} ${report.sha256}\n  start command: ${report.startCommand || '(none)'}`,
        );
      }),
    );
  return droplet;
}

/** What `slipway build` passes on when it stages with classic buildpacks. */
export interface ClassicBuildFlags extends SandboxFlags {
  path?: string;
  stack?: string;
  buildpack: string[];
  env: string[];
  classic?: boolean;
  detect?: boolean;
  services?: string;
  clearCache?: boolean;
  fullFs?: boolean;
  stagingImage?: string;
  sbom?: boolean;
}

/** `slipway build --classic`: CF's builder in the stack's build image, the droplet stored as an image. */
export async function classicBuild(
  ctx: CliContext,
  image: string | undefined,
  flags: ClassicBuildFlags,
): Promise<void> {
  if (!image)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      'slipway build --classic needs an IMAGE name, e.g. slipway build --classic apps/web -b ./buildpack',
    );
  const quiet = ctx.options.quiet || ctx.options.json;
  const only = flags.buildpack.length === 1 ? flags.buildpack[0]! : undefined;
  if (flags.fullFs || (only && fullFsOptIn(only))) {
    if (!only)
      throw new SlipwayError('INVALID_ARGUMENT', 'full-filesystem staging runs one buildpack: give exactly one -b');
    const report = await stageFullFs(await ctx.store(), {
      path: flags.path ?? '.',
      image,
      buildpack: only,
      env: flags.env,
      ...(flags.stack ? { stack: flags.stack } : {}),
      ...(flags.stagingImage ? { stagingImage: flags.stagingImage } : {}),
      ...(flags.sbom === false ? { sbom: false } : {}),
      output: (text) => {
        if (!quiet) process.stderr.write(text);
      },
      ...sandboxFrom(flags),
    });
    ctx.print(report, () =>
      [
        `Built ${report.repository}:${report.tag} (full-filesystem staging as root; io.buildpacks.rebasable=false)`,
        `digest ${report.digest}`,
        `delta layer ${shortDigest(report.layer.digest)} ${formatBytes(report.layer.size)}, ${report.paths.length} paths`,
        `processes: ${
          Object.entries(report.processTypes)
            .map(([t, c]) => `${t}: ${c}`)
            .join('; ') || '(none)'
        }`,
        ...(report.sbom ? [sbomLine(report.sbom)] : []),
      ].join('\n'),
    );
    return;
  }
  const report = await stageClassic(await ctx.store(), {
    path: flags.path ?? '.',
    image,
    buildpacks: flags.buildpack,
    env: flags.env,
    ...(flags.stack ? { stack: flags.stack } : {}),
    ...(flags.detect ? { detect: true } : {}),
    ...(flags.services ? { servicesFile: flags.services } : {}),
    ...(flags.clearCache ? { clearCache: true } : {}),
    ...(flags.sbom === false ? { sbom: false } : {}),
    progress: ctx.progress(),
    output: (text) => {
      if (!quiet) process.stderr.write(text);
    },
    ...sandboxFrom(flags),
  });
  ctx.print(report, () =>
    [
      `Built ${report.repository}:${report.tag} (classic buildpacks, droplet at /home/vcap)`,
      `digest ${report.digest}`,
      `stack ${report.stack.name} (version ${report.stack.version})`,
      `buildpacks: ${report.buildpacks.map((b) => `${b.name || b.key}${b.version ? `@${b.version}` : ''}`).join(', ')}`,
      ...report.layers.map(
        (l) =>
          `  ${l.reused ? 'reused ' : 'new    '} ${l.name.padEnd(14)} ${formatBytes(l.size).padStart(10)}  ${shortDigest(l.digest)}`,
      ),
      `processes: ${
        Object.entries(report.processTypes)
          .map(([t, c]) => `${t}: ${c}`)
          .join('; ') || '(none)'
      }`,
      ...(report.sbom ? [sbomLine(report.sbom)] : []),
      `took ${report.seconds.toFixed(2)} s`,
    ].join('\n'),
  );
}
