import { createHash } from 'node:crypto';
// The parts by their own entry points: the package's root also loads its validators (ajv
// and its schemas), some 580 KB that each build's start would pay for nothing.
import * as Enums from '@cyclonedx/cyclonedx-library/Enums';
import * as Models from '@cyclonedx/cyclonedx-library/Models';
import * as Serialize from '@cyclonedx/cyclonedx-library/Serialize';
import * as Spec from '@cyclonedx/cyclonedx-library/Spec';
import { describeLayer } from './layer-roles.js';
import type { ImageInventory, SbomComponent } from './types.js';

export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';

/** Version of the tool named in the documents. */
export const SLIPWAY_TOOL = { name: 'slipway', version: '0.1.0' };

/**
 * The inventory as a CycloneDX 1.6 JSON document. Deterministic: no timestamp but the
 * image's creation time, a serial number derived from the image digest, sorted lists,
 * so the same image always gives the same bytes (and the same referrer digest).
 * Each component's properties say where it was found: `slipway:layer:diffID`,
 * `slipway:layer` (base, buildpack X layer Y, app) and `slipway:path`.
 */
export function toCycloneDx(inv: ImageInventory): string {
  const bom = new Models.Bom();
  bom.serialNumber = `urn:uuid:${uuidFrom(`slipway-sbom:cyclonedx:${inv.image}`)}`;
  bom.metadata.timestamp = new Date(inv.created);
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, SLIPWAY_TOOL.name, {
      version: SLIPWAY_TOOL.version,
      bomRef: 'slipway',
    }),
  );
  bom.metadata.component = new Models.Component(Enums.ComponentType.Container, inv.name, {
    version: inv.image,
    bomRef: inv.image,
  });
  if (inv.distro) {
    bom.metadata.component.properties.add(
      new Models.Property('slipway:distro', `${inv.distro.id}-${inv.distro.versionId}`),
    );
  }
  for (const [ref, c] of bomRefs(inv.components)) {
    const comp = new Models.Component(
      c.ecosystem === 'node' ? Enums.ComponentType.Platform : Enums.ComponentType.Library,
      c.name,
      { version: c.version, bomRef: ref, ...(c.purl ? { purl: c.purl } : {}) },
    );
    const role = inv.layers.find((l) => l.diffId === c.layer);
    comp.properties.add(new Models.Property('slipway:layer:diffID', c.layer));
    comp.properties.add(new Models.Property('slipway:layer', describeLayer(role)));
    comp.properties.add(new Models.Property('slipway:path', c.foundIn));
    if (c.source !== undefined) comp.properties.add(new Models.Property('slipway:deb:source', c.source));
    if (c.sourceVersion !== undefined)
      comp.properties.add(new Models.Property('slipway:deb:sourceVersion', c.sourceVersion));
    bom.components.add(comp);
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return serializer.serialize(bom, { sortLists: true, space: 2 });
}

/** Unique bom-refs: the purl, with the layer's position added when a purl occurs in several layers. */
export function bomRefs(components: SbomComponent[]): [string, SbomComponent][] {
  const count = new Map<string, number>();
  const base = (c: SbomComponent) => c.purl || `${c.ecosystem}:${c.name}@${c.version}`;
  for (const c of components) count.set(base(c), (count.get(base(c)) ?? 0) + 1);
  const used = new Set<string>();
  return components.map((c) => {
    let ref = base(c);
    if ((count.get(ref) ?? 0) > 1) ref = `${ref}#${c.layer.slice(7, 19)}:${c.foundIn}`;
    for (let n = 2; used.has(ref); n++) ref = `${base(c)}#${n}`;
    used.add(ref);
    return [ref, c];
  });
}

/** A UUID (RFC 9562 version 8, name-based) from a name: the same name, the same UUID. */
export function uuidFrom(name: string): string {
  const h = createHash('sha256').update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
