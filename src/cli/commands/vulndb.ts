import { Command } from 'commander';
import { importAdvisories, type ImportReport } from '../../vuln/import.js';
import { vulnDbStatus, type VulnDbStatus } from '../../vuln/status.js';
import { run } from '../run.js';

export function vulndbCommand(): Command {
  const cmd = new Command('vulndb').description("The store's vulnerability database (offline advisories for scan)");
  cmd
    .command('import')
    .description('Import advisories: the Debian Security Tracker JSON, an OSV record, or a zip of OSV records')
    .argument('<file-or-url>', 'a file, or an http(s) URL to download')
    .addHelpText(
      'after',
      `
The Debian tracker's JSON replaces what the tracker said before; OSV records (npm and
Debian ecosystems) are added or updated. Importing the same bytes again does nothing.

--json prints {source, kind, location, unchanged, records, added, changed, removed, total, ms}.

Examples:
  $ slipway vulndb import https://security-tracker.debian.org/tracker/data/json
  $ slipway vulndb import ./npm-all.zip
  $ slipway vulndb import GHSA-rv95-896h-c2vc.json`,
    )
    .action(
      run(async (ctx, location: string) => {
        const progress = ctx.progress();
        progress.log(`importing ${location}`);
        const store = await ctx.store();
        const report = await importAdvisories(store.home, location);
        ctx.print(report, () => importLine(report));
      }),
    );
  cmd
    .command('status')
    .description('Show the sources, their age and the counts of the vulnerability database')
    .addHelpText(
      'after',
      `
--json prints {sources: [{name, kind, location, imported, advisories, ageHours}], advisories, cves, packages, images}.

Examples:
  $ slipway vulndb status
  $ slipway vulndb status --json | jq '.sources[].ageHours'`,
    )
    .action(
      run(async (ctx) => {
        const status = vulnDbStatus((await ctx.store()).home);
        ctx.print(status, () => statusText(status));
      }),
    );
  return cmd;
}

function importLine(r: ImportReport): string {
  if (r.unchanged) return `${r.source}: unchanged since the last import (${r.total} advisories)`;
  return `${r.source}: ${r.records} records, ${r.added} added, ${r.changed} changed, ${r.removed} removed; ${r.total} advisories (${r.ms} ms)`;
}

function statusText(s: VulnDbStatus): string {
  if (s.sources.length === 0)
    return 'no advisories yet: slipway vulndb import https://security-tracker.debian.org/tracker/data/json';
  return [
    `${s.advisories} advisories, ${s.cves} CVEs, ${s.packages} packages; ${s.images} images inventoried`,
    ...s.sources.map(
      (x) =>
        `  ${x.name.padEnd(24)} ${String(x.advisories).padStart(8)}  imported ${x.imported} (${x.ageHours} h ago)  ${x.location}`,
    ),
  ].join('\n');
}
