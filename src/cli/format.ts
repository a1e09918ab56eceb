import type { BuildSbom } from '../vuln/inventory.js';
/** Human formats shared by commands. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Left-aligned columns separated by three spaces, like `docker images`. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function shortDigest(d: string): string {
  return d.slice(d.indexOf(':') + 1, d.indexOf(':') + 13);
}

/** "SBOM: 142 components (CycloneDX sha256:1a2b3c4d5e6f attached, 38 ms)" */
export function sbomLine(s: BuildSbom): string {
  if (s.error) return `warning: no SBOM attached (${s.error}); make it with slipway sbom IMAGE`;
  return `SBOM: ${s.components} components (${s.digest ? `CycloneDX ${s.digest.slice(0, 19)} attached, ` : 'recorded before, '}${Math.round(s.ms)} ms)`;
}

/** The image references every transport command takes (copy, inspect, rebase, ...): in help texts. */
export const TRANSPORT_HELP = `
Image references:
  NAME[:TAG]                   the local store (e.g. debian:bookworm)
  HOST/NAME[:TAG|@DIGEST]      a registry (e.g. 127.0.0.1:5000/team/app:v1)
  docker://REFERENCE           a registry, docker.io by default
  oci:DIR[:REF]                an OCI image layout directory
  oci-archive:FILE[:REF]       a tar of an OCI image layout
  docker-archive:FILE[:REF]    the format of docker save / podman load
  droplet:FILE[:STACK]         a Cloud Foundry droplet, as an image on a stack (read only)`;
