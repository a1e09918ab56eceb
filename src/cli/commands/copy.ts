import { Command, Option } from 'commander';
import { copy } from '../../copy/copy.js';
import { parsePlatform } from '../../oci/platform.js';
import { parseTransport } from '../../oci/transport.js';
import { formatBytes } from '../format.js';
import { run } from '../run.js';

export const TRANSPORT_HELP = `
Image references:
  NAME[:TAG]                   the local store (e.g. debian:bookworm)
  oci:DIR[:REF]                an OCI image layout directory
  oci-archive:FILE[:REF]       a tar of an OCI image layout
  docker-archive:FILE[:REF]    the format of docker save / podman load`;

export function copyCommand(): Command {
  return new Command('copy')
    .description('Copy an image between the local store, OCI layouts and archives, keeping its digest')
    .argument('<src>', 'source image reference')
    .argument('<dst>', 'destination image reference')
    .option('--all', 'copy every platform of a multi-platform image (an index)')
    .option('--platform <os/arch[/variant]>', "the platform to take from a multi-platform image (default: this machine's)")
    .addOption(new Option('--compression <algorithm>', 'compression for layers that arrive uncompressed').choices(['gzip', 'zstd']).default('gzip'))
    .addHelpText('after', `${TRANSPORT_HELP}

Examples:
  $ slipway copy debian:bookworm oci:/tmp/debian:bookworm
  $ slipway copy oci-archive:app.tar myapp:v1
  $ slipway copy myapp:v1 docker-archive:myapp.tar:myapp:v1 && podman load -i myapp.tar`)
    .action(run(async (ctx, src: string, dst: string, opts: { all?: boolean; platform?: string; compression: 'gzip' | 'zstd' }) => {
      const report = await copy(parseTransport(src), parseTransport(dst), ctx.store, {
        all: opts.all ?? false,
        compression: opts.compression,
        progress: ctx.progress(),
        ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
      });
      ctx.print(report, () => `Copied ${report.source} -> ${report.destination}\n${report.digest} (${report.blobsWritten} blobs written, ${report.blobsSkipped} already there, ${formatBytes(report.bytesWritten)})`);
    }));
}
