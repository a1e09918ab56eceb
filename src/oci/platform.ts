import { endianness } from 'node:os';
import { SlipwayError } from '../errors.js';
import { isIndexMediaType, isManifestMediaType } from './media-types.js';
import type { Descriptor, ImageIndex, Platform } from './types.js';

/**
 * Platforms as containerd's `platforms` package handles them: the specifier syntax
 * `os[(version+feature…)][/arch[/variant]]`, normalisation (x86_64 -> amd64,
 * aarch64 -> arm64, arm64/v8 = arm64, amd64/v1 = amd64, arm = arm/v7), matching, and
 * the ordered list of platforms a machine can also run (amd64 runs 386, arm/v7 runs v6…).
 */

/** What Node tells about the machine, for `nodePlatform`. */
export interface NodePlatformInfo {
  arch: string;
  platform: string;
  endianness: 'BE' | 'LE';
  /** `process.config.variables.arm_version` on 32-bit ARM builds, e.g. '7'. */
  armVersion?: string | number;
}

const KNOWN_OS = [
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'hurd',
  'illumos',
  'ios',
  'js',
  'linux',
  'nacl',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'windows',
  'zos',
];
const KNOWN_ARCH = [
  '386',
  'amd64',
  'amd64p32',
  'arm',
  'armbe',
  'arm64',
  'arm64be',
  'ppc64',
  'ppc64le',
  'loong64',
  'mips',
  'mipsle',
  'mips64',
  'mips64le',
  'mips64p32',
  'mips64p32le',
  'ppc',
  'riscv',
  'riscv64',
  's390',
  's390x',
  'sparc',
  'sparc64',
  'wasm',
];
const OS_RE = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$/;
const COMPONENT_RE = /^[A-Za-z0-9_.-]+$/;
const EXAMPLE = 'linux/arm64/v8';

const NODE_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', mipsel: 'mipsle' };
const NODE_OS: Record<string, string> = { win32: 'windows', sunos: 'solaris' };

/**
 * Parses a platform specifier as containerd does. A lone OS takes this machine's
 * architecture; a lone architecture takes this machine's OS.
 *
 * @example
 *   parsePlatform('linux/amd64')       // { os: 'linux', architecture: 'amd64' }
 *   parsePlatform('linux/arm64/v8')    // { os: 'linux', architecture: 'arm64', variant: 'v8' }
 *   parsePlatform('linux/aarch64')     // { os: 'linux', architecture: 'arm64' }
 *   parsePlatform('windows(10.0.17763)/amd64')  // { os: 'windows', 'os.version': '10.0.17763', … }
 */
export function parsePlatform(specifier: string, host: Platform = hostPlatform()): Platform {
  const fail = (reason: string): never => {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `invalid platform "${specifier}": ${reason} (a valid example: ${EXAMPLE})`,
      {
        detail: { specifier },
      },
    );
  };
  if (specifier.includes('*')) fail('wildcards are not supported');
  const parts = specifier.split('/');
  if (parts.length > 3) fail('a platform is os/arch or os/arch/variant, with at most two "/"');
  const osMatch = OS_RE.exec(parts[0]!) ?? fail(`"${parts[0]}" is not an OS, optionally with (version+features)`);
  for (const part of parts.slice(1)) {
    if (!COMPONENT_RE.test(part)) fail(`"${part}" may only hold letters, digits, "_", "." and "-"`);
  }
  const p: Platform = { os: normalizeOS(osMatch[1]!), architecture: '' };
  if (osMatch[2]) p['os.version'] = decodeOSOption(osMatch[2], fail);
  if (osMatch[3])
    p['os.features'] = osMatch[3]
      .slice(1)
      .split('+')
      .map((f) => decodeOSOption(f, fail));

  if (parts.length === 1) {
    if (KNOWN_OS.includes(p.os))
      return withArch(
        p,
        host.architecture,
        host.architecture === 'arm' && host.variant !== 'v7' ? host.variant : undefined,
      );
    const [arch, variant] = normalizeArch(parts[0]!, '');
    if (!KNOWN_ARCH.includes(arch)) fail(`"${parts[0]}" is neither a known operating system nor a known architecture`);
    return withArch({ os: host.os, architecture: '' }, arch, arch === 'arm' && variant === 'v7' ? '' : variant);
  }
  if (parts.length === 2) {
    const [arch, variant] = normalizeArch(parts[1]!, '');
    return withArch(p, arch, arch === 'arm' && variant === 'v7' ? '' : variant);
  }
  const [arch, variant] = normalizeArch(parts[1]!, parts[2]!);
  return withArch(p, arch, arch === 'arm64' && variant === '' ? 'v8' : variant);
}

/**
 * Formats a platform as a specifier that `parsePlatform` reads back.
 *
 * @example
 *   formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' })  // 'linux/arm/v7'
 *   formatPlatform({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' })
 *   // 'windows(10.0.17763.1)/amd64'
 */
export function formatPlatform(p: Platform): string {
  if (!p.os) return 'unknown';
  const features = [...(p['os.features'] ?? [])]
    .sort()
    .map((f) => `+${encodeOSOption(f)}`)
    .join('');
  const options = encodeOSOption(p['os.version'] ?? '') + features;
  const os = options === '' ? p.os : `${p.os}(${options})`;
  return [os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/**
 * The canonical form containerd compares: OS lowercased (macos -> darwin),
 * architecture aliases resolved, default variants dropped (arm64/v8, amd64/v1) or
 * filled (arm -> arm/v7), os.features sorted and de-duplicated.
 *
 * @example normalizePlatform({ os: 'Linux', architecture: 'aarch64', variant: 'v8' })
 *   // { os: 'linux', architecture: 'arm64' }
 */
export function normalizePlatform(p: Platform): Platform {
  const [architecture, variant] = normalizeArch(p.architecture, p.variant ?? '');
  const out: Platform = { ...p, os: normalizeOS(p.os), architecture };
  delete out.variant;
  if (variant !== '') out.variant = variant;
  if (p['os.features'] !== undefined && p['os.features'].length > 0)
    out['os.features'] = [...new Set(p['os.features'])].sort();
  return out;
}

/**
 * True when an image for `have` is exactly what `want` asks for, after normalisation
 * (containerd's NewMatcher): same OS, architecture and variant; `have`'s os.features a
 * subset of `want`'s; on Windows, the same build when `want` names an os.version.
 *
 * @example
 *   platformMatches({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' })  // true
 *   platformMatches({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: '386' })  // false
 */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture || (w.variant ?? '') !== (h.variant ?? '')) return false;
  if (w.os === 'windows' && !sameWindowsBuild(want['os.version'], have['os.version'])) return false;
  const offered = new Set(w['os.features'] ?? []);
  return (h['os.features'] ?? []).every((f) => offered.has(f));
}

/**
 * The platforms a machine of platform `p` runs, best first (containerd's platformVector):
 * amd64/vN also runs amd64/vN-1 … v1 and 386; arm/vN runs arm/vN-1 … v5; arm64/v8.x
 * runs v8.x-1 … v8 and arm/v8 … v5; arm64/v9.x runs v9.x-1 … v9, then v8.x+5 … v8.
 *
 * @example compatiblePlatforms({ os: 'linux', architecture: 'amd64' }).map(formatPlatform)
 *   // ['linux/amd64', 'linux/386']
 */
export function compatiblePlatforms(p: Platform): Platform[] {
  const base = normalizePlatform(p);
  const same = (architecture: string, variant?: string): Platform => {
    const out: Platform = { ...base, architecture };
    delete out.variant;
    if (variant) out.variant = variant;
    return out;
  };
  const vector = [base];
  const number = (variant: string | undefined) => Number.parseInt((variant ?? '').replace(/^v/, ''), 10);
  if (base.architecture === 'amd64') {
    for (let v = number(base.variant) - 1; v >= 1; v--) vector.push(same('amd64', v === 1 ? undefined : `v${v}`));
    vector.push(same('386'));
  } else if (base.architecture === 'arm') {
    for (let v = number(base.variant) - 1; v >= 5; v--) vector.push(same('arm', `v${v}`));
  } else if (base.architecture === 'arm64') {
    vector.push(...arm64Fallbacks(base.variant ?? 'v8').map((variant) => same('arm64', variant)));
    const armVariant = /^v(8|9)\./.test(base.variant ?? '') ? 'v8' : (base.variant ?? 'v8');
    vector.push(...compatiblePlatforms(same('arm', armVariant)));
  }
  return vector;
}

/**
 * Picks the descriptor of `index` that best suits `want`: an exact match first, then the
 * compatible platforms in `compatiblePlatforms` order, then (as containerd) a manifest
 * that declares no platform. Ties go to the earlier entry. With `strict`, only exact
 * matches count. Entries that are neither manifests nor indexes are ignored.
 *
 * @example
 *   selectManifest(index, parsePlatform('linux/arm64'))?.digest
 */
export function selectManifest(
  index: ImageIndex,
  want: Platform,
  options: { strict?: boolean } = {},
): Descriptor | undefined {
  const ranks = options.strict ? [want] : compatiblePlatforms(want);
  let best: { desc: Descriptor; rank: number } | undefined;
  for (const desc of index.manifests) {
    if (!isManifestMediaType(desc.mediaType) && !isIndexMediaType(desc.mediaType)) continue;
    const platform = desc.platform;
    const rank = platform === undefined ? ranks.length : ranks.findIndex((r) => platformMatches(r, platform));
    if (rank < 0) continue;
    if (best === undefined || rank < best.rank) best = { desc, rank };
  }
  return best?.desc;
}

/**
 * This machine's platform in OCI (GOOS/GOARCH) terms.
 *
 * @example hostPlatform()  // { os: 'linux', architecture: 'amd64' } on x86-64 Linux
 */
export function hostPlatform(): Platform {
  const variables = (process.config as { variables?: Record<string, unknown> }).variables ?? {};
  const armVersion = variables.arm_version;
  return nodePlatform({
    arch: process.arch,
    platform: process.platform,
    endianness: endianness(),
    ...(typeof armVersion === 'string' || typeof armVersion === 'number' ? { armVersion } : {}),
  });
}

/**
 * Maps Node's `process.arch` / `process.platform` to an OCI platform: x64 -> amd64,
 * ia32 -> 386, arm64 -> arm64/v8, arm -> arm/v{arm_version}, ppc64 -> ppc64le on
 * little-endian machines, win32 -> windows.
 *
 * @example nodePlatform({ arch: 'arm', platform: 'linux', endianness: 'LE', armVersion: '6' })
 *   // { os: 'linux', architecture: 'arm', variant: 'v6' }
 */
export function nodePlatform(info: NodePlatformInfo): Platform {
  const os = NODE_OS[info.platform] ?? info.platform;
  let architecture = NODE_ARCH[info.arch] ?? info.arch;
  let variant: string | undefined;
  if (architecture === 'ppc64' && info.endianness === 'LE') architecture = 'ppc64le';
  if (architecture === 'arm64') variant = 'v8';
  if (architecture === 'arm') variant = `v${info.armVersion ?? 7}`;
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

// --- helpers -------------------------------------------------------------------

function withArch(p: Platform, architecture: string, variant: string | undefined): Platform {
  const out: Platform = { ...p, architecture };
  if (variant) out.variant = variant;
  return out;
}

function normalizeOS(os: string): string {
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

/** containerd's normalizeArch: aliases and default variants. */
function normalizeArch(arch: string, variant: string): [string, string] {
  const a = arch.toLowerCase();
  const v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      return ['386', ''];
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return ['amd64', v === 'v1' ? '' : v];
    case 'aarch64':
    case 'arm64':
      return ['arm64', v === '8' || v === 'v8' ? '' : v];
    case 'armhf':
      return ['arm', 'v7'];
    case 'armel':
      return ['arm', 'v6'];
    case 'arm':
      if (v === '' || v === '7') return ['arm', 'v7'];
      return ['arm', ['5', '6', '8'].includes(v) ? `v${v}` : v];
    default:
      return [a, v];
  }
}

/** arm64 variants below `variant`, best first, e.g. v8.2 -> [v8.1, v8]; v9.1 -> [v9, v8.6 … v8]. */
function arm64Fallbacks(variant: string): string[] {
  const m = /^v(\d+)(?:\.(\d+))?$/.exec(variant);
  if (m === null) return [];
  let major = Number(m[1]);
  let minor = m[2] === undefined ? 0 : Number(m[2]);
  if (major < 8) return [];
  const out: string[] = [];
  const name = (ma: number, mi: number) => (mi === 0 ? `v${ma}` : `v${ma}.${mi}`);
  if (major === 9) {
    for (let mi = minor - 1; mi >= 0; mi--) out.push(name(9, mi));
    // v9.0 diverged from v8.5, so v9.x runs v8.(x+5)
    major = 8;
    minor += 5;
    out.push(name(8, minor));
  }
  for (let mi = minor - 1; mi >= 0; mi--) out.push(name(major, mi));
  return out;
}

function sameWindowsBuild(want: string | undefined, have: string | undefined): boolean {
  if (want === undefined || want === '') return true;
  const build = (v: string | undefined) => (v ?? '').split('.').slice(0, 3).join('.');
  return build(want) === build(have);
}

function encodeOSOption(v: string): string {
  return v.replace(/%/g, '%25').replace(/\+/g, '%2B').replace(/\(/g, '%28').replace(/\)/g, '%29').replace(/\//g, '%2F');
}

function decodeOSOption(v: string, fail: (reason: string) => never): string {
  if (!v.includes('%')) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return fail(`"${v}" has a malformed %-escape`);
  }
}
