import type { Digest } from '../../oci/digest.js';
import type { LocalStore } from '../../store/local-store.js';
import type { App } from '../model.js';
import type { Permissions } from '../policy.js';
import type { PlatformStore } from '../store/platform-store.js';
import type { WorkloadStore } from '../store/workload-store.js';
import type { Droplet } from '../workload.js';
import { visibleDroplets, visibleFleet } from './visible-fleet.js';

/**
 * An app's image as the dashboard draws it: its layers base to top, each named by what
 * made it (the stack, a buildpack's layer, the app, the launcher), its size as stored
 * (what `slipway inspect` shows), and the other apps the caller sees whose current
 * image has the same layer. Read from the image's manifest and config in the store:
 * the CNB labels say which diffID is whose.
 */

export type LayerKind = 'stack' | 'buildpack' | 'app' | 'launcher' | 'config' | 'process-types' | 'droplet' | 'other';

export interface ImageLayer {
  digest: Digest;
  diffId: Digest;
  /** Compressed size, as stored and as `slipway inspect` lists it. */
  size: number;
  kind: LayerKind;
  /** For a buildpack layer: the buildpack's id and version and the layer's name. */
  buildpack?: { id: string; version: string };
  name?: string;
  /** Other apps (the caller sees) whose current image has this layer. */
  sharedWith: { guid: string; name: string }[];
}

export interface AppImage {
  digest: Digest;
  stack: string;
  stackVersion: string;
  size: number;
  layers: ImageLayer[];
  processTypes: Record<string, string>;
  buildpacks: { name: string; version: string | null }[];
  /** The labels a user cares about (source, project, stack id, distro), as they are. */
  labels: Record<string, string>;
}

interface ManifestFacts {
  layers: { digest: Digest; size: number }[];
  configDigest: Digest;
  diffIds: Digest[];
  labels: Record<string, string>;
}

const SHOWN_LABELS = [
  'org.opencontainers.image.source',
  'org.opencontainers.image.revision',
  'io.buildpacks.stack.id',
  'io.buildpacks.base.distro.name',
  'io.buildpacks.base.distro.version',
  'io.buildpacks.project.metadata',
];

/**
 * Reads images' manifests and configs from the store; both are immutable by digest,
 * so what was read once is kept (the image page of one app compares it with every
 * other app's).
 */
export class ImageFacts {
  readonly #cache = new Map<string, Promise<ManifestFacts>>();

  constructor(private readonly images: LocalStore) {}

  facts(digest: Digest): Promise<ManifestFacts> {
    let p = this.#cache.get(digest);
    if (!p) {
      p = this.#read(digest);
      p.catch(() => this.#cache.delete(digest));
      if (this.#cache.size > 50_000) this.#cache.clear();
      this.#cache.set(digest, p);
    }
    return p;
  }

  async #read(digest: Digest): Promise<ManifestFacts> {
    const manifest = JSON.parse((await this.images.blobs.read(digest, 4 << 20)).toString('utf8')) as {
      config: { digest: Digest };
      layers: { digest: Digest; size: number }[];
    };
    const config = JSON.parse((await this.images.blobs.read(manifest.config.digest, 4 << 20)).toString('utf8')) as {
      rootfs?: { diff_ids?: Digest[] };
      config?: { Labels?: Record<string, string> };
    };
    return {
      layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size })),
      configDigest: manifest.config.digest,
      diffIds: config.rootfs?.diff_ids ?? [],
      labels: config.config?.Labels ?? {},
    };
  }
}

export interface AppImageDeps {
  perms: Permissions;
  store: PlatformStore;
  workloads: WorkloadStore;
  facts: ImageFacts;
}

/** The layer stack of `droplet` (an app's, already allowed), with which other visible apps share each layer. */
export async function appImage(d: AppImageDeps, app: App, droplet: Droplet): Promise<AppImage> {
  const facts = await d.facts.facts(droplet.digest as Digest);
  const kinds = classify(facts);
  const sharing = await layerSharing(d, app.guid);
  const layers: ImageLayer[] = facts.layers.map((l, i) => ({
    digest: l.digest,
    diffId: facts.diffIds[i] ?? l.digest,
    size: l.size,
    ...(kinds[i] ?? { kind: 'other' as const }),
    sharedWith: sharing.get(l.digest) ?? [],
  }));
  const labels: Record<string, string> = {};
  for (const k of SHOWN_LABELS) if (facts.labels[k] !== undefined) labels[k] = facts.labels[k]!;
  return {
    digest: droplet.digest as Digest,
    stack: droplet.stack,
    stackVersion: droplet.stackVersion,
    size: facts.layers.reduce((n, l) => n + l.size, 0),
    layers,
    processTypes: droplet.processTypes,
    buildpacks: droplet.buildpacks.map((b) => ({ name: b.buildpackName ?? b.name, version: b.version })),
    labels,
  };
}

/** For each layer digest, the apps (other than `except`) whose current image has it. */
async function layerSharing(d: AppImageDeps, except: string): Promise<Map<string, { guid: string; name: string }[]>> {
  const [fleet, droplets] = await Promise.all([visibleFleet(d.perms, d.store), visibleDroplets(d.perms, d.workloads)]);
  const out = new Map<string, { guid: string; name: string }[]>();
  await Promise.all(
    fleet.apps.map(async (app) => {
      if (app.guid === except || !app.currentDropletGuid) return;
      const droplet = droplets.get(app.currentDropletGuid);
      if (!droplet) return;
      const facts = await d.facts.facts(droplet.digest as Digest).catch(() => undefined);
      for (const l of new Set(facts?.layers.map((x) => x.digest) ?? [])) {
        const list = out.get(l);
        if (list) list.push({ guid: app.guid, name: app.name });
        else out.set(l, [{ guid: app.guid, name: app.name }]);
      }
    }),
  );
  for (const list of out.values()) list.sort((a, b) => a.name.localeCompare(b.name));
  return out;
}

type Kind = Pick<ImageLayer, 'kind' | 'buildpack' | 'name'>;

/** What made each layer, by the CNB lifecycle label (and Slipway's droplet label for classic buildpacks). */
function classify(facts: ManifestFacts): Kind[] {
  const byDiffId = new Map<string, Kind>();
  const meta = parseJson(facts.labels['io.buildpacks.lifecycle.metadata']) as
    | {
        app?: { sha?: string }[];
        buildpacks?: { key?: string; version?: string; layers?: Record<string, { sha?: string }> }[];
        config?: { sha?: string };
        launcher?: { sha?: string };
        'process-types'?: { sha?: string };
        runImage?: { topLayer?: string };
      }
    | undefined;
  for (const a of meta?.app ?? []) if (a.sha) byDiffId.set(a.sha, { kind: 'app', name: 'app' });
  for (const bp of meta?.buildpacks ?? [])
    for (const [name, layer] of Object.entries(bp.layers ?? {}))
      if (layer.sha)
        byDiffId.set(layer.sha, {
          kind: 'buildpack',
          name,
          buildpack: { id: bp.key ?? '?', version: bp.version ?? '' },
        });
  if (meta?.config?.sha) byDiffId.set(meta.config.sha, { kind: 'config', name: 'config' });
  if (meta?.launcher?.sha) byDiffId.set(meta.launcher.sha, { kind: 'launcher', name: 'launcher' });
  const pt = meta?.['process-types']?.sha;
  if (pt) byDiffId.set(pt, { kind: 'process-types', name: 'process types' });
  const droplet = parseJson(facts.labels['io.slipway.droplet']) as
    | { layers?: string[]; buildpacks?: { name?: string; version?: string }[] }
    | undefined;
  const dl = droplet?.layers ?? [];
  dl.forEach((sha, i) => {
    if (byDiffId.has(sha)) return;
    if (i === dl.length - 1) byDiffId.set(sha, { kind: 'app', name: 'app' });
    else if (i === 0) byDiffId.set(sha, { kind: 'droplet', name: 'droplet root (profile.d, staging_info.yml)' });
    else {
      const bp = droplet?.buildpacks?.[i - 1];
      byDiffId.set(sha, {
        kind: 'buildpack',
        name: `deps/${i - 1}`,
        buildpack: { id: bp?.name ?? '?', version: bp?.version ?? '' },
      });
    }
  });
  const top = meta?.runImage?.topLayer;
  const topIndex = top ? facts.diffIds.indexOf(top as Digest) : -1;
  return facts.layers.map((_, i) => {
    const diffId = facts.diffIds[i];
    const known = diffId ? byDiffId.get(diffId) : undefined;
    if (known) return known;
    if (i <= topIndex) return { kind: 'stack', name: 'stack (run image)' };
    return { kind: 'other' };
  });
}

function parseJson(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface LayerDiffRow {
  left?: ImageLayer;
  right?: ImageLayer;
  /** same: both images have this layer at this place. */
  same: boolean;
}

/**
 * Two layer stacks side by side, base first, aligned at the top: a rebase changes the
 * base under unchanged app layers, so the app layers line up even when the bases have
 * different numbers of layers. A row is the same when both sides have the same digest.
 */
export function diffLayerStacks(left: ImageLayer[], right: ImageLayer[]): LayerDiffRow[] {
  const n = Math.max(left.length, right.length);
  const rows: LayerDiffRow[] = [];
  for (let i = 0; i < n; i++) {
    const l = left[left.length - n + i];
    const r = right[right.length - n + i];
    rows.push({ ...(l ? { left: l } : {}), ...(r ? { right: r } : {}), same: !!l && !!r && l.digest === r.digest });
  }
  return rows;
}
