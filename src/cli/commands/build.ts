import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CopyReport } from '../../copy/copy.js';
import { parseLocalName } from '../../oci/reference.js';
import { parseRegistryTransport, parseTransport } from '../../oci/transport.js';
import type { Progress } from '../../progress.js';
import type { CliContext } from '../context.js';
import { buildApp, type BuildAppReport } from '../../stage/cnb/build-app.js';
import { formatBytes, sbomLine } from '../format.js';
import { registriesFrom, withRegistryOptions, type RegistryFlags } from '../registry-options.js';
import { run } from '../run.js';
import { sandboxFrom, withSandboxOptions, type SandboxFlags } from '../sandbox-options.js';

interface BuildFlags extends RegistryFlags, SandboxFlags {
  path?: string;
  stack?: string;
  builder?: string;
  buildpack: string[];
  env: string[];
  envFile?: string;
  publish?: boolean;
  runImage?: string;
  clearCache?: boolean;
  creationTime?: string;
  classic?: boolean;
  detect?: boolean;
  services?: string;
  fullFs?: boolean;
  stagingImage?: string;
  sbom?: boolean;
  reuse?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function buildCommand(): Command {
  return withSandboxOptions(
    withRegistryOptions(
      new Command('build')
        .description(
          "Build an app into an OCI image with Cloud Native Buildpacks, in the stack's build image, without a daemon",
        )
        .argument(
          '[image]',
          "NAME[:TAG] in the local store, or HOST/NAME[:TAG] to push to a registry (default: project.toml's name)",
        )
        .option('-p, --path <dir>', 'the app directory', '.')
        .option('--stack <name>', 'the stack to build on (default: the default stack, made on first use)')
        .option(
          '--builder <image|dir>',
          'a builder image (NAME[:TAG] in the store, HOST/NAME[:TAG] pulled from a registry; see slipway builder create), or a builder directory (or its builder.toml): [[order]] groups, the [[buildpacks]] and [[extensions]] its uris name, [[order-extensions]] of CNB image extensions',
        )
        .option(
          '-b, --buildpack <id[@version]|dir|tgz|url|image|cnb>',
          'use these buildpacks, in this order, as the only group (repeatable); an http(s):// or file:// URL of a .tgz (downloaded once, cached in the store home); a buildpackage as NAME:TAG, HOST/NAME[:TAG], docker://REF or a .cnb file',
          collect,
          [],
        )
        .option('-e, --env <KEY=VALUE>', 'build-time environment for the buildpacks (repeatable)', collect, [])
        .option('--env-file <file>', 'build-time environment from a file of KEY=VALUE lines')
        .option(
          '--publish',
          'push the image to a registry: IMAGE read as a registry reference even without a host (docker.io); HOST/NAME pushes without it',
        )
        .option(
          '--run-image <image>',
          "the run image to build on instead of the stack's (or the builder's): NAME[:TAG] in the store or HOST/NAME[:TAG]; same platform and stack id as the build image",
        )
        .option(
          '--clear-cache',
          "empty the app's build cache first, and build even when nothing changed (no reuse of the last image)",
        )
        .option(
          '--no-reuse',
          'build even when nothing changed since a recent build of the image (its image is not reused; the build cache is kept)',
        )
        .option(
          '--creation-time <now|epoch>',
          'the image creation time (default: SOURCE_DATE_EPOCH, else 1980-01-01T00:00:01Z)',
        )
        .option(
          '--classic',
          "stage with Cloud Foundry v2 / Heroku buildpacks (bin/supply, bin/finalize, bin/compile); implied when every -b is one, or by the app's .buildpacks without -b",
        )
        .option(
          '--detect',
          'classic: run bin/detect of the -b buildpacks in order, the first that applies stages (CF without -b)',
        )
        .option('--services <file>', 'classic: VCAP_SERVICES JSON for staging')
        .option(
          '--full-fs',
          "full-filesystem staging: the one -b buildpack's bin/compile runs as root in an overlay over the staging image; the delta is the layer",
        )
        .option(
          '--staging-image <image>',
          "with --full-fs: the local image to stage in and build on (default: the stack's run image)",
        )
        .option('--no-sbom', 'do not attach an SBOM (CycloneDX, an OCI referrer) or record the image for slipway scan'),
      'one',
    ).addHelpText(
      'after',
      `
The buildpacks' detect and build run in one container of the stack's build image
(or of the builder image given with --builder, whose order, buildpacks and run image
are then used), as its user, with the app at /workspace and layers at /layers. The image has
the run image's layers, one layer per buildpack launch layer, the app, and the
launcher (/cnb/lifecycle/launcher) with /cnb/process/TYPE entrypoints. Its SBOM (the
Debian, npm and Node.js packages, each with its layer) is attached as a CycloneDX
referrer, pushed with the image, and recorded for slipway scan. Exit codes
of failed phases follow the CNB platform spec (20: nothing detected, 51: a buildpack
failed, ...). project.toml in the app is read (flags win).

Every build runs sandboxed: its own network namespace (--network outbound reaches
the internet but never this host, its loopback or private networks; none: no
network), no capabilities, NoNewPrivs, a seccomp allowlist, and limits on wall time,
memory, processes, CPU and disk (its own volume of --disk-limit). A build that
reaches a limit stops with exit 52 (time), 53 (memory), 54 (processes) or 55 (disk).

Examples:
  $ slipway build web:v1 --path examples/nodejs && slipway run --port 8080 web:v1
  $ slipway build hello --path examples/c-gmp && slipway run --rm hello
  $ slipway build app -b ./my-buildpack -b slipway/procfile -e BP_DEBUG=1
  $ slipway builder create builders/mine:1 --config builder.toml && slipway build app --builder builders/mine:1
  $ slipway build app --builder 127.0.0.1:5000/builders/mine:1 -b 127.0.0.1:5000/bp/extra:2
  $ slipway build 127.0.0.1:5000/team/web:v2 --path examples/nodejs
  $ slipway build web:v1 --path examples/nodejs --run-image default/run:patched
  $ slipway build --full-fs apps/gmp -p examples/fullfs-gmp -b examples/fullfs-gmp/buildpack
  $ slipway build apps/pi --builder examples/cnb-gmp -p examples/cnb-gmp/app    # an image extension adds GMP
  $ slipway build apps/web --classic -b ./apt-buildpack -b https://github.com/cloudfoundry/binary-buildpack#v1.1.0
  $ slipway build ci/app --network none --timeout 10m --memory 2g --disk-limit 4g`,
    ),
  ).action(
    run(async (ctx, image: string | undefined, flags: BuildFlags) => {
      if (await wantsClassic(flags)) return (await import('./droplet.js')).classicBuild(ctx, image, flags);
      const progress = ctx.progress();
      const quiet = ctx.options.quiet || ctx.options.json;
      const report: BuildAppReport = await buildApp(await ctx.store(), {
        ...(image ? { image } : {}),
        ...(flags.path ? { path: flags.path } : {}),
        ...(flags.stack ? { stack: flags.stack } : {}),
        ...(flags.builder ? { builder: flags.builder } : {}),
        buildpacks: flags.buildpack,
        env: flags.env,
        ...(flags.envFile ? { envFile: flags.envFile } : {}),
        ...(flags.publish ? { publish: true } : {}),
        ...(flags.runImage ? { runImage: flags.runImage } : {}),
        ...(flags.clearCache ? { clearCache: true } : {}),
        ...(flags.creationTime ? { creationTime: flags.creationTime } : {}),
        ...(flags.sbom === false ? { sbom: false } : {}),
        // An unchanged build answers with its last image (--no-reuse and --clear-cache build anyway).
        reuse: flags.reuse !== false,
        progress,
        output: (text) => {
          if (!quiet) process.stderr.write(text);
        },
        push: async (local, destination) => {
          const { copy } = await import('../../copy/copy.js');
          const dst = parseTransport(destination);
          return copy(parseTransport(local), dst, ctx.store, { progress, registries: registriesFrom(flags, { dst }) });
        },
        checkPush: async (destination) => {
          const { checkDestination } = await import('../../copy/check-destination.js');
          const dst = parseTransport(destination);
          await checkDestination(dst, registriesFrom(flags, { dst }));
        },
        pull: pullInto(ctx, flags, progress),
        ...sandboxFrom(flags),
      });
      const pushed = report.pushed
        ? (await import('./copy.js')).transferSummary(report.pushed.report as CopyReport)
        : undefined;
      ctx.print(report, () => summary(report, pushed));
    }),
  );
}

/**
 * Classic (CF v2 / Heroku) or full-filesystem staging: asked for, or implied by the
 * buildpacks. Their modules load only then, as the registry client's only to push or pull:
 * a warm build's start-up is part of its time.
 */
async function wantsClassic(flags: BuildFlags): Promise<boolean> {
  if (flags.classic || flags.detect || flags.fullFs) return true;
  // Heroku's .buildpacks in the app names classic buildpacks (no -b, no builder).
  if (flags.buildpack.length === 0) return !flags.builder && existsSync(join(flags.path ?? '.', '.buildpacks'));
  const only = flags.buildpack.length === 1 ? flags.buildpack[0]! : undefined;
  if (
    only &&
    existsSync(join(only, 'manifest.yml')) &&
    (await import('../../stage/classic/full-fs-stage.js')).fullFsOptIn(only)
  )
    return true;
  const { isClassicBuildpackDir } = await import('../../buildpack/classic/buildpack-source.js');
  return flags.buildpack.every((b) => isClassicBuildpackDir(b));
}

/** Pulls a registry image into the store (a builder, a run image, a buildpackage); its local NAME@DIGEST. */
export function pullInto(
  ctx: CliContext,
  flags: RegistryFlags,
  progress: Progress,
): (reference: string) => Promise<string> {
  return async (reference) => {
    const src = parseRegistryTransport(reference);
    const { pull } = await import('../../copy/pull.js');
    const report = await pull(src, undefined, ctx.store, { progress, registries: registriesFrom(flags, { src }) });
    return `${parseLocalName(report.destination).name}@${report.digest}`;
  };
}

export function summary(r: BuildAppReport, pushed: string | undefined): string {
  const lines = [
    `Built ${r.image}`,
    `digest ${r.digest}`,
    ...(r.reused
      ? [
          `unchanged: reused ${r.reused.digest} from the build at ${r.reused.builtAt} (same source, stack, buildpacks, env and options; --no-reuse builds anyway)`,
        ]
      : []),
    `stack ${r.stack.name} (version ${r.stack.version})${r.builder ? `, builder ${r.builder.image} (${r.builder.digest.slice(7, 19)})` : ''}`,
    `buildpacks: ${r.group.map((b) => `${b.id}@${b.version}`).join(', ')}`,
    ...(r.extensions.length
      ? [
          `image extensions: ${r.extensions.map((e) => `${e.id}@${e.version}${e.extended.length ? ` (${e.extended.map((k) => `${k}.Dockerfile`).join(', ')})` : ''}`).join(', ')}`,
        ]
      : []),
    `layers: ${r.layers.length} (${r.layers.filter((l) => !l.reused).length} new, ${r.layers.filter((l) => l.reused).length} reused)`,
  ];
  for (const l of r.layers)
    lines.push(
      `  ${l.reused ? 'reused ' : 'new    '} ${l.name.padEnd(36)} ${formatBytes(l.size).padStart(10)}  ${l.diffId.slice(7, 19)}`,
    );
  lines.push(
    `processes: ${r.processes.map((p) => `${p.type}${p.default ? ' (default)' : ''}: ${processCommand(p)}`).join('; ') || '(none)'}`,
  );
  const cache =
    r.layersUnpacked > 0
      ? `layer cache ${r.seconds.layerCache.toFixed(2)} (${r.layersUnpacked} ${r.layersUnpacked === 1 ? 'layer' : 'layers'} of the build image unpacked), `
      : '';
  lines.push(
    r.reused
      ? `took ${r.seconds.total.toFixed(2)} s (no container started), 0 B of new layers`
      : `took ${r.seconds.total.toFixed(2)} s (${cache}detect ${r.seconds.detect.toFixed(2)}, ${r.seconds.extend ? `extend ${r.seconds.extend.toFixed(2)}, ` : ''}build ${r.seconds.build.toFixed(2)}, export ${r.seconds.export.toFixed(2)}), ${formatBytes(r.bytesWritten)} of new layers`,
  );
  if (r.sbom) lines.push(sbomLine(r.sbom));
  if (r.pushed) lines.push(`pushed to ${r.pushed.destination}: ${pushed}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

/**
 * A process's command as a person reads it: a shell form (`/bin/sh -c CMD NAME`) shows
 * CMD quoted, without the $0 name the shell gets after it; arguments follow.
 *
 * @example processCommand({ type: 'web', command: ['/bin/sh', '-c', 'node server.js', 'web'], args: [] }) // "/bin/sh -c 'node server.js'"
 */
export function processCommand(p: { type: string; command: string[]; args?: string[] }): string {
  const [sh, flag, script, ...rest] = p.command;
  const words =
    sh !== undefined && /^(\/usr)?(\/bin\/)?(ba|da)?sh$/.test(sh) && flag === '-c' && script !== undefined
      ? [sh, '-c', shellQuote(script), ...(rest[0] === p.type ? rest.slice(1) : rest).map(shellQuote)]
      : p.command.map(shellQuote);
  return [...words, ...(p.args ?? []).map(shellQuote)].join(' ');
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
