import { Command } from 'commander';
import { parsePlatform } from '../../oci/platform.js';
import { parseTransport } from '../../oci/transport.js';
import { promote } from '../../promote/promote.js';
import { REGISTRY_HELP, registriesFrom, withRegistryOptions, type RegistryFlags } from '../registry-options.js';
import { run } from '../run.js';
import { TRANSPORT_HELP, transferSummary } from './copy.js';

export function promoteCommand(): Command {
  return withRegistryOptions(
    new Command('promote')
      .description('Copy an image so that the destination holds the very same digest, or refuse')
      .argument('<src>', 'the tested image (any reference but a docker archive)')
      .argument('<dst>', 'where it goes (any reference but a docker archive)')
      .option(
        '--platform <os/arch[/variant]>',
        'promote only this platform of a multi-platform image (default: the whole index)',
      )
      .option('--no-referrers', "leave the image's referrers (SBOMs, scan results) behind"),
    'two',
  )
    .addHelpText(
      'after',
      `${TRANSPORT_HELP}
${REGISTRY_HELP}

What was tested is what is deployed: the manifest and blobs are copied byte for
byte (only the blobs the destination lacks; mounted within one registry), and the
digest now identical in both places is printed. Anything that would change it
(re-compression, a docker archive) is refused. Referrers of the image (SBOMs) go
along, unless --no-referrers.

Example:
  $ slipway promote staging.example/shop/web:v42 prod.example/shop/web:v42`,
    )
    .action(
      run(async (ctx, src: string, dst: string, opts: RegistryFlags & { platform?: string; referrers: boolean }) => {
        const [from, to] = [parseTransport(src), parseTransport(dst)];
        const report = await promote(from, to, ctx.store, {
          referrers: opts.referrers,
          progress: ctx.progress(),
          registries: registriesFrom(opts, { src: from, dst: to }),
          ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
        });
        ctx.print(
          report,
          () =>
            `Promoted ${report.source} -> ${report.destination}\n${transferSummary(report)}\n${report.digest} is now identical in both places`,
        );
      }),
    );
}
