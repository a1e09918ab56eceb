import { Command } from 'commander';
import { pull } from '../../copy/pull.js';
import { parseLocalName } from '../../oci/reference.js';
import { parsePlatform } from '../../oci/platform.js';
import { parseRegistryTransport } from '../../oci/transport.js';
import { REGISTRY_HELP, registriesFrom, withRegistryOptions, type RegistryFlags } from '../registry-options.js';
import { run } from '../run.js';
import { transferSummary } from './copy.js';

export function pullCommand(): Command {
  return withRegistryOptions(
    new Command('pull')
      .description('Copy an image from a registry into the local store')
      .argument('<src>', 'HOST/NAME[:TAG|@DIGEST] (a name without a host is on docker.io), or any image reference')
      .argument('[name]', 'local NAME[:TAG] (default: SRC without its registry host)')
      .option('--all', 'pull every platform of a multi-platform image (an index)')
      .option(
        '--platform <os/arch[/variant]>',
        "the platform to take from a multi-platform image (default: this machine's)",
      ),
  )
    .addHelpText(
      'after',
      `${REGISTRY_HELP}

Examples:
  $ slipway pull 127.0.0.1:5000/team/app:v1            # stored as team/app:v1
  $ slipway pull registry.example/base@sha256:… base:pinned`,
    )
    .action(
      run(
        async (
          ctx,
          src: string,
          name: string | undefined,
          opts: RegistryFlags & { all?: boolean; platform?: string },
        ) => {
          const from = parseRegistryTransport(src);
          const report = await pull(from, name ? parseLocalName(name) : undefined, ctx.store, {
            all: opts.all ?? false,
            progress: ctx.progress(),
            registries: registriesFrom(opts, { src: from }),
            ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
          });
          ctx.print(report, () => `Pulled ${report.source} as ${report.destination}\n${transferSummary(report)}`);
        },
      ),
    );
}
