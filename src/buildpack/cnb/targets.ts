import { SlipwayError } from '../../errors.js';
import { optionalString, tables, type TomlTable } from './toml.js';

/** One `[[targets]]` entry of buildpack.toml; an absent field matches anything. */
export interface BuildpackTarget {
  os?: string;
  arch?: string;
  variant?: string;
  distros?: { name?: string; version?: string }[];
}

/** The target of a base image (CNB_TARGET_* and io.buildpacks.stack.id). */
export interface ImageTarget {
  os: string;
  arch: string;
  variant?: string;
  distro?: { name?: string; version?: string };
  stackId?: string;
}

/** What buildpack.toml declares about where it runs: `[[targets]]`, else the deprecated `[[stacks]]` ids. */
export interface TargetDeclaration {
  targets: BuildpackTarget[];
  stacks: string[];
}

const BIONIC = 'io.buildpacks.stacks.bionic';

/** `[[targets]]` and `[[stacks]]` of a parsed buildpack.toml. */
export function parseTargets(doc: TomlTable, what: string): TargetDeclaration {
  const targets = tables(doc['targets'], `${what} [[targets]]`).map((t, i) => {
    const at = `${what} targets[${i}]`;
    const os = optionalString(t['os'], `${at}.os`);
    const arch = optionalString(t['arch'], `${at}.arch`);
    // The spec spells it `variant`; the lifecycle's struct reads `arch-variant`: take either.
    const variant =
      optionalString(t['variant'], `${at}.variant`) ?? optionalString(t['arch-variant'], `${at}.arch-variant`);
    const distros = tables(t['distros'], `${at}.distros`).map((d, j) => {
      const name = optionalString(d['name'], `${at}.distros[${j}].name`);
      const version = optionalString(d['version'], `${at}.distros[${j}].version`);
      return { ...(name ? { name } : {}), ...(version ? { version } : {}) };
    });
    return {
      ...(os ? { os } : {}),
      ...(arch ? { arch } : {}),
      ...(variant ? { variant } : {}),
      ...(distros.length ? { distros } : {}),
    };
  });
  const stacks = tables(doc['stacks'], `${what} [[stacks]]`).map((s, i) => {
    const id = optionalString(s['id'], `${what} stacks[${i}].id`);
    if (!id) throw new SlipwayError('INVALID_DOCUMENT', `${what} stacks[${i}] has no id`);
    return id;
  });
  return { targets, stacks };
}

/**
 * The targets a buildpack runs on, as the lifecycle derives them (buildpack/bp_descriptor.go):
 * its `[[targets]]`; else `[[stacks]]` id "*" as "anything" and the bionic stack as
 * linux/amd64 ubuntu 18.04; else `os = "linux"` when it has bin/build.
 */
export function effectiveTargets(decl: TargetDeclaration, hasBinBuild: boolean): BuildpackTarget[] {
  if (decl.targets.length > 0) return decl.targets;
  const out: BuildpackTarget[] = [];
  for (const id of decl.stacks) {
    if (id === '*') out.push({});
    else if (id === BIONIC) out.push({ os: 'linux', arch: 'amd64', distros: [{ name: 'ubuntu', version: '18.04' }] });
  }
  if (out.length === 0 && hasBinBuild) out.push({ os: 'linux' });
  return out;
}

/**
 * True when a buildpack may run on `image` (lifecycle platform/target_data.go
 * TargetSatisfiedForBuild: an empty value on either side is a wildcard; a buildpack
 * that lists distros needs one of them to match). A buildpack that declares only
 * `[[stacks]]` also matches when one of the ids is the image's io.buildpacks.stack.id
 * (buildpack.md: a stacks entry "MUST identify a compatible stack").
 */
export function targetSatisfied(decl: TargetDeclaration, hasBinBuild: boolean, image: ImageTarget): boolean {
  if (decl.targets.length === 0 && decl.stacks.length > 0) {
    if (decl.stacks.some((id) => id === '*' || (image.stackId !== undefined && id === image.stackId))) return true;
    return decl.stacks.includes(BIONIC) && effectiveTargets(decl, hasBinBuild).some((t) => satisfies(image, t));
  }
  const targets = effectiveTargets(decl, hasBinBuild);
  // No target at all (a buildpack with no bin/build): nothing to check, as the lifecycle.
  return targets.length === 0 || targets.some((t) => satisfies(image, t));
}

function satisfies(image: ImageTarget, t: BuildpackTarget): boolean {
  if (!matches(image.os, t.os) || !matches(image.arch, t.arch) || !matches(image.variant, t.variant)) return false;
  if (!t.distros || t.distros.length === 0) return true;
  if (!image.distro) return false;
  return t.distros.some((d) => matches(image.distro!.name, d.name) && matches(image.distro!.version, d.version));
}

function matches(a: string | undefined, b: string | undefined): boolean {
  return !a || !b || a === b;
}

/** The JSON the lifecycle logs for a target mismatch. */
export function describeTargets(image: ImageTarget, targets: unknown[]): string {
  const { stackId: _s, ...rest } = image;
  return `unable to satisfy target os/arch constraints; run image: ${JSON.stringify(rest)}, buildpack: ${JSON.stringify(targets)}`;
}
