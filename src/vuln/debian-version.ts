/**
 * Debian version comparison, from Debian Policy 5.6.12 ("Version"):
 * `[epoch:]upstream_version[-debian_revision]`. Epochs compare as numbers; then the
 * upstream version and the revision, each by the same algorithm: alternately the
 * longest non-digit prefix, compared character by character with `~` before
 * everything (even the end of the string), then the end, then letters, then every
 * other character; and the longest digit prefix, compared as a number.
 */

export interface DebianVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** Splits a version into its three parts (a missing epoch is 0, a missing revision ""). */
export function parseDebianVersion(version: string): DebianVersion {
  const v = version.trim();
  const colon = v.indexOf(':');
  const epoch = colon > 0 && /^\d+$/.test(v.slice(0, colon)) ? Number(v.slice(0, colon)) : 0;
  const rest = colon > 0 ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  return dash >= 0
    ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) }
    : { epoch, upstream: rest, revision: '' };
}

/**
 * Negative when a < b, 0 when equal, positive when a > b, as `dpkg --compare-versions`.
 *
 * @example compareDebianVersions('1.0~rc1-1', '1.0-1') // < 0
 * @example compareDebianVersions('1:0.9', '2.0')      // > 0
 */
export function compareDebianVersions(a: string, b: string): number {
  const x = parseDebianVersion(a);
  const y = parseDebianVersion(b);
  if (x.epoch !== y.epoch) return x.epoch < y.epoch ? -1 : 1;
  return compareFragment(x.upstream, y.upstream) || compareFragment(x.revision, y.revision);
}

/** The sort weight of a character in a non-digit part: ~ lowest, the end next, letters, then the rest. */
function weight(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (c === 126) return -1; // ~
  if (isDigit(c)) return 0;
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c;
  return c + 256;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // The non-digit part.
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const d = weight(a, i) - weight(b, j);
      if (d !== 0) return d < 0 ? -1 : 1;
      i++;
      j++;
    }
    // The digit part, as a number: leading zeros skipped, then the longer run is bigger, else the first difference.
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    let first = 0;
    while (i < a.length && isDigit(a.charCodeAt(i)) && j < b.length && isDigit(b.charCodeAt(j))) {
      if (first === 0) first = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigit(b.charCodeAt(j))) return -1;
    if (first !== 0) return first < 0 ? -1 : 1;
  }
  return 0;
}
