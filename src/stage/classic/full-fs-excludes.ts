/**
 * Paths full-filesystem staging leaves out of the delta: package manager caches and
 * lists, temp and log files (not the app's business, and not reproducible), and the
 * files the runtime provides to every container (resolv.conf, hosts, hostname).
 */
export const DEFAULT_EXCLUDES = [
  'tmp',
  'var/tmp',
  'var/log',
  'var/cache/apt',
  'var/lib/apt/lists',
  'var/cache/debconf/templates.dat-old',
  'var/cache/ldconfig/aux-cache',
  'root/.cache',
  'etc/resolv.conf',
  'etc/hosts',
  'etc/hostname',
] as const;

/**
 * A predicate for an archive path ("var/log/x"): true when it is an excluded path or
 * below one. Patterns are paths relative to /, a leading "/" is ignored, a trailing
 * "/*" means "below, not itself".
 *
 * @example excludedBy(['tmp'])('tmp/x') // true
 */
export function excludedBy(patterns: readonly string[]): (path: string) => boolean {
  const whole: string[] = [];
  const below: string[] = [];
  for (const raw of patterns) {
    const p = raw.replace(/^\/+/, '').replace(/\/+$/, '');
    if (p.endsWith('/*')) below.push(p.slice(0, -2));
    else if (p !== '') whole.push(p);
  }
  return (path) =>
    whole.some((p) => path === p || path.startsWith(`${p}/`)) || below.some((p) => path.startsWith(`${p}/`));
}
