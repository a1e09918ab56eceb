import { Command, Option } from 'commander';
import { SlipwayError } from '../../errors.js';
import { SEVERITIES, type Severity } from '../../vuln/advisory.js';
import { imagesWithCve, scanImages, type CveImpact, type Finding, type ScanReport } from '../../vuln/scan.js';
import type { StackFix } from '../../vuln/stack-fixes.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cveExposure, type CveExposure } from '../../platform/exposure.js';
import { isPostgresUrl, openPlatformStore } from '../../platform/store/open-platform-store.js';
import type { LocalStore } from '../../store/local-store.js';
import { run } from '../run.js';

export function scanCommand(): Command {
  return new Command('scan')
    .description(
      'Match images against the vulnerability database: findings, their layer, and whether a rebase fixes them',
    )
    .argument('[images...]', 'local images (NAME[:TAG] or NAME@DIGEST)')
    .option('--all', 'every tagged image of the store')
    .option(
      '--cve <id>',
      "list the images that have this CVE (or advisory id), and the platform's running apps on them with their org and space",
    )
    .option(
      '--database <url>',
      "with --cve: the platform's database, as slipway serve was given it (default $SLIPWAY_DATABASE, else the home's platform.sqlite when there is one)",
    )
    .option('--attach', "store each image's findings as an OCI referrer of it (the database's age annotated)")
    .addOption(new Option('--severity <level>', 'report only findings at least this severe').choices([...SEVERITIES]))
    .addHelpText(
      'after',
      `
Each finding names the CVE, the package, the installed and fixed versions, the severity
and where the package is (base, buildpack X layer Y, app). A base finding says "fixed by
rebasing to STACK version N" when a newer stack version carries the fix, or "no fixed stack
version yet". An image scanned for the first time gets its SBOM made and attached; --attach stores the
findings too (artifactType application/vnd.slipway.vulnerability-report.v1+json), which
push and copy carry to registries for other tools to read.
Import advisories first: slipway vulndb import FILE|URL.

--json prints {images: [{image, names, findings: [{cve, advisory, package, installed, source,
fixed, severity, layer, where, remedy, rebaseTo}]}], databaseImported, advisories};
with --cve: {cve, advisories, images: [{image, names, findings}], apps: [{org, space, app, image,
droplet, instances, findings}]} (apps: only where the home holds a platform, slipway serve's).

Examples:
  $ slipway scan apps/web
  $ slipway scan --all --severity high
  $ slipway scan --cve CVE-2024-45490
  $ slipway scan --attach apps/web && slipway push apps/web 127.0.0.1:5000/apps/web`,
    )
    .action(
      run(
        async (
          ctx,
          images: string[],
          opts: { all?: boolean; cve?: string; severity?: Severity; attach?: boolean; database?: string },
        ) => {
          if (opts.database) ctx.useStorage({ database: opts.database });
          const store = await ctx.store();
          if (opts.cve) {
            const impact = await cveImpact(store, opts.cve, opts.database);
            ctx.print(impact, () => cveText(impact));
            return;
          }
          if (!opts.all && images.length === 0) {
            throw new SlipwayError(
              'INVALID_ARGUMENT',
              'name the images to scan, or give --all or --cve CVE-ID (e.g. slipway scan apps/web)',
            );
          }
          const progress = ctx.progress();
          progress.log(opts.all ? 'scanning every image of the store' : `scanning ${images.join(', ')}`);
          const report = await scanImages(store, opts.all ? 'all' : images, {
            ...(opts.severity ? { severity: opts.severity } : {}),
            ...(opts.attach ? { attach: true } : {}),
          });
          ctx.print(report, () => scanText(report));
        },
      ),
    );
}

function findingLine(f: Finding): string {
  return `  ${f.cve.padEnd(18)} ${f.severity.padEnd(10)} ${f.package} ${f.installed}${f.fixed ? ` (fixed ${f.fixed})` : ''}  in ${f.where}: ${f.remedy}`;
}

function scanText(r: ScanReport): string {
  const lines: string[] = [];
  for (const i of r.images) {
    lines.push(
      `${i.names[0] ?? i.image} (${i.image.slice(0, 19)}): ${i.findings.length === 0 ? 'no findings' : `${i.findings.length} findings`}`,
    );
    lines.push(...i.findings.map(findingLine));
  }
  lines.push(`(${r.advisories} advisories, imported ${r.databaseImported || 'never'})`);
  return lines.join('\n');
}

/** The images with `cve`, and with a platform in the home (or at `database`) the running apps on them. */
async function cveImpact(
  store: LocalStore,
  cve: string,
  database: string | undefined,
): Promise<CveImpact | CveExposure> {
  const platformDb = database || process.env['SLIPWAY_DATABASE'] || join(store.home, 'platform.sqlite');
  if (!isPostgresUrl(platformDb) && !existsSync(platformDb)) return imagesWithCve(store, cve);
  const platform = await openPlatformStore(platformDb);
  try {
    return await cveExposure(
      { store: platform, workloads: platform.workloads, images: store, visibility: { kind: 'all' } },
      cve,
    );
  } finally {
    await platform.close();
  }
}

function cveText(c: CveImpact | CveExposure): string {
  if (c.advisories === 0) return `${c.cve}: not in the vulnerability database`;
  const apps = 'apps' in c ? c.apps : undefined;
  const lines = [`${c.cve}: ${c.images.length === 0 ? 'no inventoried image has it' : `${c.images.length} images`}`];
  for (const i of c.images) lines.push(`${i.names.join(', ') || i.image}`, ...i.findings.map(findingLine));
  if (apps) {
    lines.push(apps.length === 0 ? 'no running app has it' : `${apps.length} running apps have it:`);
    for (const a of apps) {
      const instances = Object.entries(a.instances)
        .map(([type, n]) => `${type} x${n}`)
        .join(', ');
      const remedy = [...new Set(a.findings.map((f) => f.remedy))].join('; ');
      lines.push(`  ${a.org.name}/${a.space.name}/${a.app.name} (${instances}, ${a.image.slice(0, 19)}): ${remedy}`);
    }
  }
  return lines.join('\n');
}

/** "default version 3 fixes 2 CVEs in the store's images: ..." */
export function fixesText(stack: string, version: string, fixes: StackFix[]): string {
  if (fixes.length === 0) return `${stack} version ${version} fixes no known CVE of the store's images`;
  return [
    `${stack} version ${version} fixes ${new Set(fixes.map((f) => f.cve)).size} CVEs in the store's images once rebased:`,
    ...fixes.map((f) => `  ${f.cve} ${f.severity} ${f.package} (fixed ${f.fixed}): ${f.images.join(', ')}`),
  ].join('\n');
}
