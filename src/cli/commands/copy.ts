import { Command, Option } from 'commander';
import { copy, type CopyReport } from '../../copy/copy.js';
import { parsePlatform } from '../../oci/platform.js';
import { SlipwayError } from '../../errors.js';
import { parseTransport, type TransportRef } from '../../oci/transport.js';
import { formatBytes, TRANSPORT_HELP } from '../format.js';
import { REGISTRY_HELP, registriesFrom, withRegistryOptions, type RegistryFlags } from '../registry-options.js';
import { run } from '../run.js';
// Also here for the commands that take it from copy (import, promote); inspect and rebase take it from
// format.ts, so that they load none of copy's modules.
export { TRANSPORT_HELP };

/**
 * Refuses a destination that is only a registry host, `127.0.0.1:5000` or
 * `registry.example` (the repository forgotten), which would otherwise be read as
 * docker.io/library/127.0.0.1:5000 or a local name: the error shows the full form,
 * `HOST/NAME:TAG`, with the source's name.
 *
 * @example checkNotBareHost('127.0.0.1:5000', 'procfile-app:latest')  // throws: ... 127.0.0.1:5000/procfile-app:latest
 */
export function checkNotBareHost(dst: string, sourceName: string, options: { registry?: boolean } = {}): void {
  const text = dst.startsWith('docker://') ? dst.slice('docker://'.length) : dst;
  if (text.includes('/')) return;
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d+))?$/.exec(text);
  if (!m) return;
  const host = m[1]!;
  const hostLike = host.startsWith('[') || host === 'localhost' || host.includes('.');
  // With a port, any host-like name is a host; without, only where a registry is meant (push, docker://).
  const registryMeant = options.registry === true || dst.startsWith('docker://');
  if (!hostLike || (m[2] === undefined && !registryMeant)) return;
  throw new SlipwayError(
    'INVALID_REFERENCE',
    `${dst} names a registry but no repository: write the destination in full, HOST/NAME:TAG, e.g. ${text}/${sourceName}`,
    { detail: { destination: dst, example: `${text}/${sourceName}` } },
  );
}

/** The NAME[:TAG] of a source, for the examples of checkNotBareHost. */
export function sourceName(ref: TransportRef): string {
  if (ref.transport === 'local') return `${ref.name}:${ref.tag ?? 'latest'}`;
  if (ref.transport === 'docker') return `${ref.reference.path}:${ref.reference.tag ?? 'latest'}`;
  return 'NAME:TAG';
}

/** The one-line summary of a transfer that copy, pull, push and promote print. */
export function transferSummary(report: CopyReport): string {
  const parts = [
    `${report.blobsSent} blobs sent (${formatBytes(report.bytesSent)})`,
    `${report.blobsSkipped} already there`,
  ];
  if (report.blobsMounted > 0) parts.push(`${report.blobsMounted} mounted`);
  if (report.referrers) parts.push(`${report.referrers.length} referrers`);
  return `${report.digest} (${parts.join(', ')})`;
}

export function copyCommand(): Command {
  return withRegistryOptions(
    new Command('copy')
      .description('Copy an image between registries, the local store, OCI layouts and archives, keeping its digest')
      .argument('<src>', 'source image reference')
      .argument('<dst>', 'destination image reference')
      .option('--all', 'copy every platform of a multi-platform image (an index)')
      .option('--no-referrers', "leave the image's referrers (SBOMs, scan results) behind")
      .option(
        '--platform <os/arch[/variant]>',
        "the platform to take from a multi-platform image (default: this machine's)",
      )
      .addOption(
        new Option('--compression <algorithm>', 'compression for layers that arrive uncompressed')
          .choices(['gzip', 'zstd'])
          .default('gzip'),
      ),
    'two',
  )
    .addHelpText(
      'after',
      `${TRANSPORT_HELP}
${REGISTRY_HELP}

Examples:
  $ slipway copy debian:bookworm oci:/tmp/debian:bookworm
  $ slipway copy registry.staging.example/app:v7 registry.prod.example/app:v7
  $ slipway copy --all docker://127.0.0.1:5000/base:1 oci:/tmp/base:1
  $ slipway copy --no-referrers apps/web:v1 127.0.0.1:5000/apps/web:v1
  $ slipway copy myapp:v1 docker-archive:myapp.tar:myapp:v1 && podman load -i myapp.tar`,
    )
    .action(
      run(
        async (
          ctx,
          src: string,
          dst: string,
          opts: RegistryFlags & { all?: boolean; platform?: string; compression: 'gzip' | 'zstd'; referrers: boolean },
        ) => {
          const from = parseTransport(src);
          checkNotBareHost(dst, sourceName(from));
          const to = parseTransport(dst);
          const report = await copy(from, to, ctx.store, {
            all: opts.all ?? false,
            compression: opts.compression,
            referrers: opts.referrers,
            progress: ctx.progress(),
            registries: registriesFrom(opts, { src: from, dst: to }),
            ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
          });
          ctx.print(report, () => `Copied ${report.source} -> ${report.destination}\n${transferSummary(report)}`);
        },
      ),
    );
}
