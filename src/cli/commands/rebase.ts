import { Command } from 'commander';
import { SlipwayError } from '../../errors.js';
import { parsePlatform } from '../../oci/platform.js';
import { parseReference } from '../../oci/reference.js';
import { parseTransport, type TransportRef } from '../../oci/transport.js';
import type { CheckReport } from '../../rebase/check.js';
import type { FleetReport } from '../../rebase/fleet.js';
import { rebaseImage, type RebaseReport } from '../../rebase/rebase.js';
import { formatDiff } from '../../stack/packages.js';
import { formatBytes, shortDigest, table, TRANSPORT_HELP } from '../format.js';
import { REGISTRY_HELP, registriesFrom, withRegistryOptions, type RegistryFlags } from '../registry-options.js';
import { run } from '../run.js';

interface RebaseFlags extends RegistryFlags {
  runImage?: string;
  oldBase?: string;
  force?: boolean;
  dryRun?: boolean;
  check?: boolean;
  all?: boolean;
  stack?: string;
  repoPrefix?: string;
  registry?: string;
  concurrency?: string;
  platform?: string;
}

export function rebaseCommand(): Command {
  return withRegistryOptions(
    new Command('rebase')
      .description(
        'Put an image on a new run image (patched OS) without restaging: new base layers under the same app layers',
      )
      .argument('[image]', 'the image to rebase, written back under the same reference (store, registry or OCI layout)')
      .option(
        '--run-image <ref>',
        'the new run image (default: the run image the image recorded, at its current digest)',
      )
      .option(
        '--old-base <ref>',
        "the image's old base, for images that record no run image top layer (its layers must be a prefix)",
      )
      .option(
        '--force',
        'rebase even when a compatibility check fails (stack id, os/arch/distro, rebasable=false, not a mirror)',
      )
      .option('--dry-run', 'say what would change, write nothing (--json reports status "would-rebase")')
      .option('--check', 'list files in app layers that shadow files the new run image changes (writes nothing)')
      .option(
        '--platform <os/arch[/variant]>',
        "with --check: the platform of a multi-platform image (default: this machine's)",
      )
      .option('--all', 'rebase every image built on an older version of a stack (the fleet)')
      .option('--stack <name>', 'with --all: the stack (default: default)')
      .option('--repo-prefix <prefix>', 'with --all: only repositories whose name starts with this')
      .option('--registry <host>', 'with --all: scan this registry (catalog and tags) instead of the local store')
      .option('--concurrency <n>', 'with --all: images rebased at once', '8'),
  )
    .addHelpText(
      'after',
      `${TRANSPORT_HELP}
${REGISTRY_HELP}

The boundary between base and app layers is, in this order: --old-base REF (its
layers must be a prefix of the image's), else the run image's top layer recorded in
the io.buildpacks.lifecycle.metadata label (as the CNB rebaser reads it), else the
org.opencontainers.image.base.name/.digest annotations. Registry images move
no layer bytes: only the new config and manifest are written (new run image layers
are mounted from their repository of the same registry, or copied when they live
elsewhere: the report says so).

Examples:
  $ slipway rebase myapp:v1                                   # onto the recorded run image's current digest
  $ slipway rebase 127.0.0.1:5000/team/web:v3 --run-image 127.0.0.1:5000/stacks/run:2
  $ slipway rebase --check myapp:v1 --run-image default/run:2
  $ slipway rebase --all --stack default --dry-run            # the blast radius of a stack update
  $ slipway rebase --all --registry 127.0.0.1:5000 --repo-prefix team/ --concurrency 16`,
    )
    .action(
      run(async (ctx, image: string | undefined, opts: RebaseFlags) => {
        if (opts.all) {
          if (image) throw new SlipwayError('INVALID_ARGUMENT', 'give either an IMAGE or --all, not both');
          const registryRef: TransportRef | undefined = opts.registry
            ? { transport: 'docker', reference: parseReference(`${opts.registry}/x`) }
            : undefined;
          const concurrency = Number(opts.concurrency ?? '8');
          if (!Number.isInteger(concurrency) || concurrency < 1)
            throw new SlipwayError(
              'INVALID_ARGUMENT',
              `--concurrency must be a whole number above 0, not ${opts.concurrency}`,
            );
          // --all and --check load their modules only when asked: a one-image rebase starts without them.
          const { fleetRebase } = await import('../../rebase/fleet.js');
          const report = await fleetRebase(await ctx.store(), {
            concurrency,
            registries: registriesFrom(opts, registryRef ? { dst: registryRef } : {}),
            progress: ctx.progress(),
            ...(opts.stack ? { stack: opts.stack } : {}),
            ...(opts.repoPrefix ? { repoPrefix: opts.repoPrefix } : {}),
            ...(opts.registry ? { registry: opts.registry } : {}),
            ...(opts.runImage ? { runImage: opts.runImage } : {}),
            ...(opts.dryRun ? { dryRun: true } : {}),
            ...(opts.force ? { force: true } : {}),
          });
          ctx.print(dryRunFleet(report), () => fleetText(report));
          if (report.failed.length > 0) process.exitCode = 1;
          return;
        }
        if (!image)
          throw new SlipwayError(
            'INVALID_ARGUMENT',
            'give the IMAGE to rebase, or --all for every image of a stack (see --help)',
          );
        const ref = parseTransport(image);
        const registries = registriesFrom(opts, { dst: ref });
        if (opts.check) {
          const { checkRebase } = await import('../../rebase/check.js');
          const report = await checkRebase(ref, ctx.store, {
            registries,
            ...(opts.runImage ? { runImage: opts.runImage } : {}),
            ...(opts.oldBase ? { oldBase: opts.oldBase } : {}),
            ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
          });
          ctx.print(report, () => checkText(report));
          return;
        }
        const report = await rebaseImage(ref, ctx.store, {
          registries,
          ...(opts.runImage ? { runImage: opts.runImage } : {}),
          ...(opts.oldBase ? { oldBase: opts.oldBase } : {}),
          ...(opts.force ? { force: true } : {}),
          ...(opts.dryRun ? { dryRun: true } : {}),
        });
        for (const r of report.overridden) process.stderr.write(`slipway: warning: --force: ${r.message}\n`);
        ctx.print(dryRunReport(report), () => rebaseText(report));
      }),
    );
}

/** Under --dry-run, --json says what would happen: "would-rebase", never "rebased" (nothing was written). */
export function dryRunReport(
  r: RebaseReport,
): RebaseReport | (Omit<RebaseReport, 'status' | 'platforms'> & { status: string; platforms: unknown[] }) {
  if (!r.dryRun) return r;
  return {
    ...r,
    status: r.status === 'rebased' ? 'would-rebase' : r.status,
    platforms: r.platforms.map((p) => ({ ...p, status: p.status === 'rebased' ? 'would-rebase' : p.status })),
  };
}

/** The fleet's --dry-run --json: the entries it would rebase say "would-rebase". */
export function dryRunFleet(r: FleetReport): FleetReport | (Omit<FleetReport, 'rebased'> & { rebased: unknown[] }) {
  if (!r.dryRun) return r;
  return {
    ...r,
    rebased: r.rebased.map((e) => ({ ...e, status: e.status === 'rebased' ? 'would-rebase' : e.status })),
  };
}

function rebaseText(r: RebaseReport): string {
  const onto = `${r.runImage.name} (${shortDigest(r.runImage.digest)})`;
  if (r.status !== 'rebased') return `${r.image} is already on ${onto}: nothing to do\n${r.digest}`;
  const lines = [
    `${r.dryRun ? 'Would rebase' : 'Rebased'} ${r.image} onto ${onto}`,
    `  ${r.previousDigest} -> ${r.digest}`,
  ];
  for (const p of r.platforms) {
    if (p.status === 'kept') continue;
    lines.push(
      `  ${p.platform}: ${p.status === 'current' ? 'already current' : `base layers ${p.from?.baseLayers} -> ${p.to?.baseLayers}, ${p.appLayers} app layers kept`}`,
    );
  }
  if (!r.dryRun) {
    const t = r.transfer;
    lines.push(
      `  wrote ${t.manifestsWritten} manifest(s) and ${t.blobsSent - t.layersCopied} config(s); ${formatBytes(t.bytesSent)} sent, ${t.blobsMounted} base layers mounted, ${t.blobsSkipped} already there`,
    );
    if (t.layersCopied > 0)
      lines.push(
        `  ${t.layersCopied} base layers copied: the new run image is not where the image is (put it there to make rebases manifest-only)`,
      );
  }
  return lines.join('\n');
}

export function fleetText(r: FleetReport): string {
  const rows = [...r.rebased, ...r.current, ...r.refused, ...r.failed].map((e) => [
    e.image,
    e.from?.version ?? '?',
    e.to?.version ?? r.runImage.version,
    e.status === 'rebased' && r.dryRun ? 'would rebase' : e.status,
    e.reason ?? '',
  ]);
  const lines = [
    `Stack ${r.stack}: run image version ${r.runImage.version} (${shortDigest(r.runImage.digest)}); ${r.scanned} images scanned, ${r.onStack} on the stack`,
  ];
  if (rows.length > 0) lines.push(table(['IMAGE', 'FROM', 'TO', 'STATUS', 'WHY'], rows));
  for (const c of r.packageChanges) {
    const parts = formatDiff(c.run);
    lines.push(
      `Run image packages, version ${c.from} -> ${c.to}: ${parts.length > 0 ? parts.join(', ') : 'no package changes recorded'}`,
    );
  }
  lines.push(
    `${r.dryRun ? 'Would rebase' : 'Rebased'} ${r.rebased.length}, already current ${r.current.length}, refused ${r.refused.length}, failed ${r.failed.length} (${r.seconds.toFixed(2)} s)`,
  );
  return lines.join('\n');
}

function checkText(r: CheckReport): string {
  if (r.sameBase) return `${r.image} is already on ${r.runImage.name}: no base file changes`;
  if (r.shadows.length === 0) return `No app layer file of ${r.image} shadows a file ${r.runImage.name} changes`;
  return [
    `${r.shadows.length} app layer files of ${r.image} shadow files ${r.runImage.name} changes (the app keeps its own copy):`,
    table(
      ['PATH', 'BASE CHANGE', 'APP LAYER'],
      r.shadows.map((s) => [s.path, s.change, String(s.appLayer)]),
    ),
  ].join('\n');
}
