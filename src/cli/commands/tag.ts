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
    .argument('<images...>', 'NAME[:TAG] removes the tag; NAME@DIGEST removes the manifest and all its tags')
    .addHelpText(
      'after',
      `
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

export async function removeImages(store: LocalStore, images: string[]): Promise<({ image: string } & DeleteReport)[]> {
  const reports: ({ image: string } & DeleteReport)[] = [];
  for (const image of images) {
    const ref = parseLocalName(image);
    reports.push({ image, ...(await store.deleteImage(ref.name, ref.digest ?? ref.tag ?? 'latest')) });
  }
  return reports;
}

export function describeRemoval(r: DeleteReport): string {
  return `Untagged: ${r.untagged.join(', ') || '-'}${r.deleted.length ? `\nDeleted: ${r.deleted.join(', ')}` : ''}`;
}
