import { Command } from 'commander';
import { copy } from '../../../copy/copy.js';
import { parseReference } from '../../../oci/reference.js';
import { parseTransport } from '../../../oci/transport.js';
import { Registries } from '../../../registry/client/registries.js';
import { cfAction } from '../../cf/action.js';
import { appByName } from '../../cf/lookups.js';
import type { CfSession } from '../../cf/session.js';

/**
 * `download-droplet`: a droplet is an OCI image in the platform's registry
 * (`GET /v3/droplets/:guid/download` names it); this pulls it with the user's own
 * token into the local store, or anywhere `slipway copy` writes (an OCI layout or
 * archive, a docker archive, another registry): the same bits the platform runs.
 */

interface Droplet {
  guid: string;
}

export function downloadDropletCommand(): Command {
  return new Command('download-droplet')
    .description("Download an app's droplet: its OCI image, into the local store or any image destination")
    .argument('<APP>', 'the app')
    .option('--droplet <guid>', "this droplet instead of the app's current one")
    .option(
      '--to <destination>',
      'where to write it (as slipway copy takes it: NAME[:TAG] in the local store, oci:DIR[:REF], oci-archive:FILE, docker-archive:FILE, docker://HOST/NAME)',
    )
    .addHelpText(
      'after',
      `
The image keeps its digest: what runs on the platform is what you get.

Examples:
  $ slipway cf download-droplet web
  $ slipway cf download-droplet web --to oci-archive:web.tar && podman load -i web.tar`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: { droplet?: string; to?: string }) => {
        const user = await s.check({ org: true, space: true });
        const app = await appByName(s.client, name, s.space().guid);
        const droplet = flags.droplet
          ? { guid: flags.droplet }
          : await s.client.get<Droplet>(`/v3/apps/${app.guid}/droplets/current`);
        s.say(`Downloading droplet ${droplet.guid} of app ${app.name} as ${user.name}...`);
        const { image } = await s.client.get<{ image: string }>(`/v3/droplets/${droplet.guid}/download`);
        const ref = parseReference(image);
        const registries = new Registries({
          credentials: { [ref.domain]: { username: user.name, password: await s.client.accessToken() } },
          ...(s.config.skipSslValidation || s.config.api?.startsWith('http://') ? { insecure: true } : {}),
        });
        const to = flags.to ?? `${ref.path}:${droplet.guid}`;
        const report = await copy(parseTransport(`docker://${image}`), parseTransport(to), s.ctx.store, {
          registries,
          keepDigest: true,
          progress: s.ctx.progress(),
        });
        s.done({ droplet: droplet.guid, image, destination: to, digest: report.digest }, () =>
          [`Droplet ${droplet.guid} is image ${image}`, `Written to ${to} (${report.digest})`, 'OK'].join('\n'),
        );
      }),
    );
}
