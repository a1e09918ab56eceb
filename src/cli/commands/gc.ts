import { Command } from 'commander';
import { SlipwayError } from '../../errors.js';
import { collectLayerGarbage } from '../../runtime/index.js';
import { BuildVolume } from '../../sandbox/build-volume.js';
import { listStackNames, stackVersions } from '../../stack/stack-catalog.js';
import { sweepTemp } from '../../store/gc.js';
import { DEFAULT_GC_GRACE_MS, type LocalStore } from '../../store/local-store.js';
import { formatBytes } from '../format.js';
import { run } from '../run.js';

export function gcCommand(): Command {
  return new Command('gc')
    .description(
      'Remove blobs no image needs, uploads that were abandoned, cached layers no container or stack uses, and what killed commands left',
    )
    .option('--keep-untagged', 'keep images no tag names any more (by default they are removed first)')
    .option(
      '--grace <seconds>',
      "keep blobs pushed and untagged images made this recently (a push in flight); the registry's --gc-grace default",
      String(DEFAULT_GC_GRACE_MS / 1000),
    )
    .option('--layer-cache', "also drop the stacks' unpacked layers (the next build unpacks them again)")
    .addHelpText(
      'after',
      `
Blobs that a tag, a tagged image or an operation still running needs are never removed,
nor uploads in progress. Blobs pushed to a repository and untagged images younger than
the grace period are kept too: a registry serving this store may be in the middle of a
push whose manifest has not arrived yet (the same period as its online GC). One run
collects everything unreachable: untagged images that only other untagged images held
go in the same run.
Unpacked layers in the run cache go once no container (running or exited) uses them,
but those of every stack version in the store, which builds run on (--layer-cache
drops those too). What a slipway process killed without cleaning up left (SIGKILL, a
crash) goes as well: build and --rm containers, their mounts and build volumes, and
scratch files in the store's tmp/: a dead process's own at once, the rest after the grace period.

Examples:
  $ slipway gc
  $ slipway gc --grace 0      # nothing is being pushed: take everything unneeded now
  $ slipway gc --layer-cache  # free the disk the stacks' unpacked layers take`,
    )
    .action(
      run(async (ctx, opts: { keepUntagged?: boolean; grace: string; layerCache?: boolean }) => {
        const graceMs = seconds(opts.grace) * 1000;
        const store = await ctx.store();
        const createdBefore = new Date(Date.now() - graceMs).toISOString();
        // Dead builds' containers first (they hold layers, and their root is on a build volume), then the volumes.
        const keep = opts.layerCache ? new Set<string>() : await stackLayers(store);
        const layers = await collectLayerGarbage(store.home, { keep });
        const volumesSwept = await BuildVolume.sweep(store.home);
        const pruned = opts.keepUntagged ? [] : (await store.pruneUntagged({ createdBefore })).deleted;
        const blobs = await store.gc({ linkGraceMs: graceMs });
        const report = {
          manifestsRemoved: pruned.length,
          ...blobs,
          ...layers,
          volumesSwept,
          tempRemoved: sweepTemp(store.home, graceMs),
        };
        ctx.print(report, () => {
          const lines = [
            `Removed ${pruned.length} untagged images, ${report.blobsRemoved} blobs (${formatBytes(report.bytesFreed)}) and ${report.ingestsRemoved} abandoned uploads`,
            `Removed ${report.layersRemoved} cached layers (${formatBytes(report.layerBytesFreed)}) no container ${opts.layerCache ? '' : 'or stack '}uses`,
          ];
          const left = report.containersRemoved + report.containersEnded + volumesSwept + report.tempRemoved;
          if (left > 0)
            lines.push(
              `Cleaned up after killed commands: ${report.containersRemoved} containers removed, ${report.containersEnded} ended, ${volumesSwept} build volumes, ${report.tempRemoved} scratch directories`,
            );
          return lines.join('\n');
        });
      }),
    );
}

/** The diffIDs of every stack version's build and run images: builds need them unpacked. */
async function stackLayers(store: LocalStore): Promise<Set<string>> {
  const keep = new Set<string>();
  for (const name of await listStackNames(store)) {
    for (const version of await stackVersions(store, name).catch(() => [])) {
      for (const image of [version.build, version.run]) for (const d of image.config.rootfs.diff_ids) keep.add(d);
    }
  }
  return keep;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n))
    throw new SlipwayError('INVALID_ARGUMENT', `--grace must be a whole number of seconds, not "${value}"`);
  return n;
}
