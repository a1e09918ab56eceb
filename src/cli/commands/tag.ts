import { Command } from 'commander';
import { formatLocalName, parseLocalName } from '../../oci/reference.js';
import type { DeleteReport, LocalStore } from '../../store/local-store.js';
import { run } from '../run.js';

export function tagCommand(): Command {
  return new Command('tag')
    .description('Give an image in the local store another name (no bytes are copied)')
    .argument('<image>', 'an image in the store, NAME[:TAG] or NAME@DIGEST')
    .argument('<name>', 'the new NAME[:TAG]')
    .addHelpText(
      'after',
      `
Example:
  $ slipway tag debian:bookworm stacks/debian:2026-11`,
    )
    .action(
      run(async (ctx, image: string, name: string) => {
        const src = parseLocalName(image);
        const dst = parseLocalName(name);
        const store = await ctx.store();
        const desc = await store.resolve(src.name, src.digest ?? src.tag ?? 'latest');
        const raw = await store.blobs.read(desc.digest);
        await store.putManifest(dst.name, raw, desc.mediaType, [dst.tag ?? 'latest']);
        const out = { name: formatLocalName(dst), digest: desc.digest };
        ctx.print(out, () => `Tagged ${out.name} -> ${desc.digest}`);
      }),
    );
}

export function rmiCommand(): Command {
  return new Command('rmi')
    .description('Remove images from the local store (their blobs go at the next gc)')
    .argument(
      '<images...>',
      'NAME[:TAG] removes the tag (and the image once no tag names it); NAME@DIGEST removes the image and all its tags',
    )
    .addHelpText(
      'after',
      `
As docker rmi, it prints each name untagged and each image deleted: an image another
tag still names stays (and is not listed as deleted).

Example:
  $ slipway rmi debian:old && slipway gc`,
    )
    .action(
      run(async (ctx, images: string[]) => {
        const reports = await removeImages(await ctx.store(), images);
        ctx.print(reports, () => reports.map(describeRemoval).join('\n'));
      }),
    );
}

/** What one `rmi` argument removed: the names untagged, and the images no longer in the store at all. */
export interface RemovalReport extends DeleteReport {
  image: string;
}

export async function removeImages(store: LocalStore, images: string[]): Promise<RemovalReport[]> {
  const reports: RemovalReport[] = [];
  for (const image of images) {
    const ref = parseLocalName(image);
    const report = await store.deleteImage(ref.name, ref.digest ?? ref.tag ?? 'latest');
    // A manifest another repository still holds is not gone: docker rmi only untags then.
    const remaining = new Set((await store.meta.listManifests()).map((m) => m.digest));
    reports.push({
      image,
      untagged: report.untagged.map((tag) => `${ref.name}:${tag}`),
      deleted: report.deleted.filter((d) => !remaining.has(d)),
    });
  }
  return reports;
}

export function describeRemoval(r: DeleteReport): string {
  return [...r.untagged.map((n) => `Untagged: ${n}`), ...r.deleted.map((d) => `Deleted: ${d}`)].join('\n');
}
