import { Command } from 'commander';
import { inspect, type InspectResult } from '../../catalog/inspect.js';
import { parsePlatform, formatPlatform } from '../../oci/platform.js';
import { parseTransport } from '../../oci/transport.js';
import { formatBytes, TRANSPORT_HELP } from '../format.js';
import { run } from '../run.js';

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('Show an image: digest, size, media types, config and layers')
    .argument('<image>', 'image reference (local name, oci:, oci-archive:, docker-archive:)')
    .option('--platform <os/arch[/variant]>', 'the platform to show from a multi-platform image')
    .addHelpText(
      'after',
      `${TRANSPORT_HELP}

--json prints {name, digest, size, mediaType, platform, config, labels, layers: [{digest, diffID, size, mediaType}]}
with layers base first.

Examples:
  $ slipway inspect debian:bookworm
  $ slipway inspect --json oci:/tmp/debian:bookworm | jq .layers`,
    )
    .action(
      run(async (ctx, ref: string, opts: { platform?: string }) => {
        const result = await inspect(
          parseTransport(ref),
          ctx.store,
          opts.platform ? parsePlatform(opts.platform) : undefined,
        );
        ctx.print(result, () => human(result));
      }),
    );
}

function human(r: InspectResult): string {
  const c = r.config;
  const lines = [
    `Name:         ${r.name}`,
    `Digest:       ${r.digest}`,
    ...(r.index ? [`Index:        ${r.index.digest} (${r.index.manifests.length} manifests)`] : []),
    `Media type:   ${r.mediaType}`,
    `Platform:     ${formatPlatform(r.platform)}`,
    `Size:         ${formatBytes(r.size)}`,
    ...(r.created ? [`Created:      ${r.created}`] : []),
    `Entrypoint:   ${JSON.stringify(c.Entrypoint ?? null)}`,
    `Cmd:          ${JSON.stringify(c.Cmd ?? null)}`,
    `User:         ${c.User ?? ''}`,
    `WorkingDir:   ${c.WorkingDir ?? ''}`,
    `Env:`,
    ...(c.Env ?? []).map((e) => `  ${e}`),
    `Labels:`,
    ...Object.entries(r.labels).map(([k, v]) => `  ${k}=${v.length > 80 ? `${v.slice(0, 77)}...` : v}`),
    `Layers (base first):`,
    ...r.layers.map(
      (l, i) =>
        `  ${String(i + 1).padStart(2)}  ${l.digest}  ${formatBytes(l.size).padStart(8)}\n      diffID ${l.diffID}  ${l.mediaType}`,
    ),
  ];
  return lines.join('\n');
}
