import type { Digest } from '../oci/digest.js';
import type { LayerRole } from './types.js';

interface LifecycleLayers {
  app?: { sha?: string }[];
  sbom?: { sha?: string };
  buildpacks?: { key?: string; layers?: Record<string, { sha?: string }> }[];
  runImage?: { topLayer?: string };
}

/**
 * What each layer of an image is, from the CNB label io.buildpacks.lifecycle.metadata:
 * the run image's layers up to `runImage.topLayer` are the base, then each
 * buildpack's layers, the SBOM layer, the app, and the launcher's own layers. An
 * image without the label (a plain OS image) is all base.
 */
export function layerRoles(diffIds: Digest[], labels: Record<string, string>): LayerRole[] {
  let meta: LifecycleLayers = {};
  try {
    meta = JSON.parse(labels['io.buildpacks.lifecycle.metadata'] ?? '{}') as LifecycleLayers;
  } catch {
    // A label that is not JSON says nothing about the layers: all of them count as the base.
  }
  const top = meta.runImage?.topLayer ? diffIds.lastIndexOf(meta.runImage.topLayer as Digest) : -1;
  const baseEnd = top >= 0 ? top : meta.buildpacks || meta.app ? -1 : diffIds.length - 1;
  const buildpackOf = new Map<string, { buildpack: string; layerName: string }>();
  for (const b of meta.buildpacks ?? []) {
    for (const [layerName, l] of Object.entries(b.layers ?? {})) {
      if (l.sha && b.key) buildpackOf.set(l.sha, { buildpack: b.key, layerName });
    }
  }
  const app = new Set((meta.app ?? []).map((a) => a.sha));
  return diffIds.map((diffId, index) => {
    if (index <= baseEnd) return { diffId, index, origin: 'base' };
    const bp = buildpackOf.get(diffId);
    if (bp) return { diffId, index, origin: 'buildpack', ...bp };
    if (app.has(diffId)) return { diffId, index, origin: 'app' };
    if (meta.sbom?.sha === diffId) return { diffId, index, origin: 'sbom' };
    return { diffId, index, origin: 'launcher' };
  });
}

/** How a finding names a layer: "base", "buildpack slipway/nodejs layer node", "app". */
export function describeLayer(role: LayerRole | undefined): string {
  if (!role) return 'unknown layer';
  if (role.origin === 'buildpack') return `buildpack ${role.buildpack} layer ${role.layerName}`;
  return role.origin;
}
