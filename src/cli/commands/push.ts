import { Command } from 'commander';
import { copy } from '../../copy/copy.js';
import { parseLocalName } from '../../oci/reference.js';
import { parseRegistryTransport } from '../../oci/transport.js';
import { REGISTRY_HELP, registriesFrom, withRegistryOptions, type RegistryFlags } from '../registry-options.js';
import { run } from '../run.js';
import { checkNotBareHost, sourceName, transferSummary } from './copy.js';

export function pushCommand(): Command {
  return withRegistryOptions(
    new Command('push')
      .description('Copy an image (or a whole index) from the local store to a registry, keeping its digest')
      .argument('<name>', 'local NAME[:TAG|@DIGEST]')
      .argument('<dst>', 'HOST/NAME[:TAG] (a name without a host is on docker.io), or any image reference')
      .option('--no-referrers', "leave the image's referrers (SBOMs, scan results) behind"),
  )
    .addHelpText(
      'after',
      `${REGISTRY_HELP}

Only the blobs the registry lacks are sent. The image's referrers (SBOMs) go along:
by the referrers API, or the fallback tag sha256-<hex> where the registry has none.

Examples:
  $ slipway push team/app:v1 127.0.0.1:5000/team/app:v1
  $ slipway push --creds ci:$TOKEN myapp:v2 registry.example/apps/myapp:v2`,
    )
    .action(
      run(async (ctx, name: string, dst: string, opts: RegistryFlags & { referrers: boolean }) => {
        const from = { transport: 'local' as const, ...parseLocalName(name) };
        checkNotBareHost(dst, sourceName(from), { registry: true });
        const to = parseRegistryTransport(dst);
        const report = await copy(from, to, ctx.store, {
          all: true,
          referrers: opts.referrers,
          progress: ctx.progress(),
          registries: registriesFrom(opts, { dst: to }),
        });
        ctx.print(report, () => `Pushed ${report.source} -> ${report.destination}\n${transferSummary(report)}`);
      }),
    );
}
