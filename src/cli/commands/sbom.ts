import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { parsePlatform } from '../../oci/platform.js';
import { parseTransport } from '../../oci/transport.js';
import { describeLayer } from '../../sbom/layer-roles.js';
import { generateSbom, type SbomFormat, type SbomReport } from '../../sbom/sbom.js';
import { run } from '../run.js';

export function sbomCommand(): Command {
  return new Command('sbom')
    .description("Write an image's software bill of materials (CycloneDX 1.6 or SPDX 2.3 JSON)")
    .argument('<image>', 'image reference (local name, oci:, oci-archive:, docker-archive:, docker://)')
    .addOption(new Option('--format <format>', 'document format').choices(['cyclonedx', 'spdx']).default('cyclonedx'))
    .option('-o, --output <file>', 'write the document to FILE (default: standard output)')
    .option('--no-attach', 'do not store it as an OCI referrer of a local image')
    .option('--summary', 'print a summary (packages per layer) instead of the document')
    .option('--platform <os/arch[/variant]>', 'the platform to take from a multi-platform image')
    .addHelpText(
      'after',
      `
Lists the Debian packages of the image's dpkg status (with their source packages), npm
packages (installed node_modules and package-lock.json), the Node.js runtime a buildpack
installed and what buildpacks declared, each with the layer (diffID) it came from. A
local image gets the SBOM as an OCI 1.1 referrer (artifactType application/vnd.cyclonedx+json
or application/spdx+json), which push, copy and promote carry along. The same image gives
the same bytes.

--json prints {image, format, mediaType, digest, referrer, components, output}.

Examples:
  $ slipway sbom apps/web > web.cdx.json
  $ slipway sbom --format spdx -o web.spdx.json apps/web
  $ slipway sbom --summary slipway/default/run:latest`,
    )
    .action(
      run(
        async (
          ctx,
          ref: string,
          opts: { format: SbomFormat; output?: string; attach: boolean; summary?: boolean; platform?: string },
        ) => {
          ctx.progress().log(`reading the layers of ${ref} (each layer once; later runs use the store's cache)`);
          const report = await generateSbom(parseTransport(ref), ctx.store, {
            format: opts.format,
            attach: opts.attach,
            ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
          });
          if (opts.output) await writeFile(opts.output, report.document);
          const result = {
            image: report.image,
            format: report.format,
            mediaType: report.mediaType,
            digest: report.digest,
            ...(report.referrer ? { referrer: report.referrer.digest } : {}),
            components: report.components,
            ...(opts.output ? { output: opts.output } : {}),
          };
          if (ctx.options.json) ctx.print(result, () => '');
          else if (opts.summary || opts.output) ctx.print(result, () => summary(report, opts.output));
          else if (!ctx.options.quiet) process.stdout.write(report.document);
        },
      ),
    );
}

function summary(r: SbomReport, output: string | undefined): string {
  const perLayer = new Map<string, number>();
  for (const c of r.inventory.components) perLayer.set(c.layer, (perLayer.get(c.layer) ?? 0) + 1);
  return [
    `${output ? `wrote ${output}: ` : ''}${r.format} SBOM ${r.digest} of ${r.image}, ${r.components} components`,
    ...(r.referrer ? [`attached as referrer ${r.referrer.digest}`] : []),
    ...r.inventory.layers
      .filter((l) => perLayer.has(l.diffId))
      .map((l) => `  layer ${l.index + 1} ${describeLayer(l)}: ${perLayer.get(l.diffId)} components`),
  ].join('\n');
}
