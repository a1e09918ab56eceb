import type { Digest } from '../../oci/digest.js';
import { listStackNames, repositoryOf } from '../../stack/stack-catalog.js';
import type { LocalStore } from '../../store/local-store.js';
import { appRepository } from '../app-images.js';
import type { Permissions, RegistryAction } from '../policy.js';
import type { PlatformStore } from '../store/platform-store.js';
import { visibleFleet } from './visible-fleet.js';

/**
 * The registry as the dashboard lists it: the repositories the caller may list (the
 * policy's registryAccess, as the registry's token scopes ask it), by their public
 * names (ORG/SPACE/APP, stacks/NAME/run), and for one of them its tags, manifests and
 * the referrers of each manifest.
 */

export interface RepositoryEntry {
  /** The name clients pull (ORG/SPACE/APP, stacks/NAME/build). */
  name: string;
  /** Where the store keeps it (apps/GUID, NAME/run). */
  stored: string;
  actions: RegistryAction[];
  appGuid?: string;
}

export interface RepositoryDetail extends RepositoryEntry {
  tags: { tag: string; digest: Digest | undefined }[];
  manifests: {
    digest: Digest;
    mediaType: string;
    size: number;
    referrers: { digest: Digest; artifactType?: string }[];
  }[];
}

export interface RegistryDeps {
  perms: Permissions;
  store: PlatformStore;
  images: LocalStore;
}

export async function readableRepositories(d: RegistryDeps): Promise<RepositoryEntry[]> {
  const out: RepositoryEntry[] = [];
  const platform = d.perms.registryAccess({ platform: true });
  if (!platform.hidden)
    for (const name of await listStackNames(d.images))
      for (const role of ['run', 'build'] as const) {
        const stored = repositoryOf(name, role);
        out.push({ name: `stacks/${stored}`, stored, actions: platform.actions });
      }
  const [fleet, stored] = await Promise.all([visibleFleet(d.perms, d.store), d.images.meta.listRepositories()]);
  const present = new Set(stored);
  const spaces = new Map(fleet.spaces.map((s) => [s.guid, s]));
  const orgs = new Map(fleet.orgs.map((o) => [o.guid, o]));
  for (const app of fleet.apps) {
    const space = spaces.get(app.spaceGuid);
    const org = space && orgs.get(space.orgGuid);
    if (!space || !org || !present.has(appRepository(app.guid))) continue;
    const decision = d.perms.registryAccess({ app: { app, space, org } });
    if (decision.hidden || !decision.actions.includes('list')) continue;
    out.push({
      name: `${org.slug}/${space.slug}/${app.slug}`,
      stored: appRepository(app.guid),
      actions: decision.actions,
      appGuid: app.guid,
    });
  }
  return out;
}

/** One repository the caller may list (undefined otherwise: the page answers 404). */
export async function repositoryDetail(d: RegistryDeps, name: string): Promise<RepositoryDetail | undefined> {
  const entry = (await readableRepositories(d)).find((r) => r.name === name);
  if (!entry) return undefined;
  const tags = await d.images.meta.listTags(entry.stored);
  const manifests = await d.images.meta.listManifests(entry.stored);
  return {
    ...entry,
    tags: await Promise.all(
      tags.map(async (tag) => ({ tag, digest: await d.images.meta.resolveTag(entry.stored, tag) })),
    ),
    manifests: await Promise.all(
      manifests.map(async (m) => ({
        digest: m.digest,
        mediaType: m.mediaType,
        size: m.size,
        referrers: (await d.images.meta.referrers(entry.stored, m.digest)).map((r) => ({
          digest: r.digest,
          ...(r.artifactType ? { artifactType: r.artifactType } : {}),
        })),
      })),
    ),
  };
}
