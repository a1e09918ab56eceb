import { SlipwayError } from '../errors.js';
import { parseRepositoryName } from '../oci/reference.js';

/**
 * What an operator asks for when making a stack, normalised so that two requests for
 * the same thing compare (and hash) equal: package lists sorted and de-duplicated,
 * defaults filled in. The request is recorded on every image of the stack, so
 * `stack update` can re-run it later.
 */
export type StackRequest = DebianRequest | RootfsRequest | ImageRequest;

export interface StackUser {
  name: string;
  uid: number;
  gid: number;
}

interface CommonRequest {
  /** io.buildpacks.stack.id written on both images. */
  stackId: string;
  user: StackUser;
}

export interface DebianRequest extends CommonRequest {
  source: 'debian';
  suite: string;
  mirror: string;
  /** Packages asked for beyond the defaults, sorted. */
  runPackages: string[];
  buildPackages: string[];
}

export interface RootfsRequest extends CommonRequest {
  source: 'rootfs';
  /** Absolute paths of the operator's tarballs or directories. */
  build: string;
  run: string;
}

export interface ImageRequest extends CommonRequest {
  source: 'image';
  /** Transport references (local store, oci:, oci-archive:, docker-archive:, docker://). */
  build: string;
  run: string;
}

/** The user CNB base images run as (`cnb`, 1000:1000), as pack's sample stacks do. */
export const DEFAULT_USER: StackUser = { name: 'cnb', uid: 1000, gid: 1000 };
export const DEFAULT_SUITE = 'bookworm';
export const DEFAULT_STACK_NAME = 'default';

/** Installed in every run image on top of minbase: TLS roots and time zones apps expect. */
export const RUN_BASE_PACKAGES = ['ca-certificates', 'tzdata'] as const;
/** Installed in every build image on top of the run image's packages: what buildpacks expect to find. */
export const BUILD_BASE_PACKAGES = ['build-essential', 'curl', 'git', 'jq'] as const;

/** Debian package names (policy 5.6.1), optionally with :arch or =version as apt accepts. */
const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?(?:=[A-Za-z0-9.+~:-]+)?$/;
const SUITE_RE = /^[a-z0-9][a-z0-9.-]*$/;
const USER_NAME_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The package name of an apt include spec ("libc6:amd64=2.36-9" -> "libc6"). */
export function packageName(spec: string): string {
  return spec.replace(/[:=].*$/, '');
}

/** Splits "a,b c" (commas or spaces) into checked package specs, sorted and unique. */
export function parsePackageList(input: string | string[] | undefined): string[] {
  const parts = (Array.isArray(input) ? input : [input ?? ''])
    .flatMap((s) => s.split(/[\s,]+/))
    .filter((s) => s !== '');
  for (const p of parts) {
    if (!PACKAGE_RE.test(p)) {
      throw new SlipwayError(
        'INVALID_ARGUMENT',
        `"${p}" is not a Debian package name: use lowercase letters, digits, + . - (e.g. libgmp-dev)`,
        { detail: { package: p } },
      );
    }
  }
  return [...new Set(parts)].sort();
}

/** Parses NAME:UID:GID (e.g. cnb:1000:1000). */
export function parseUser(input: string): StackUser {
  const m = /^([^:]+):(\d+):(\d+)$/.exec(input);
  if (!m) throw new SlipwayError('INVALID_ARGUMENT', `--user "${input}" must be NAME:UID:GID, e.g. cnb:1000:1000`);
  const user = { name: m[1]!, uid: Number(m[2]), gid: Number(m[3]) };
  return checkUser(user);
}

export function checkUser(user: StackUser): StackUser {
  if (!USER_NAME_RE.test(user.name)) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `user name "${user.name}" must be lowercase letters, digits, _ or -, starting with a letter or _ (at most 32)`,
    );
  }
  for (const [what, id] of [
    ['uid', user.uid],
    ['gid', user.gid],
  ] as const) {
    if (!Number.isInteger(id) || id < 1 || id > 65533) {
      throw new SlipwayError(
        'INVALID_ARGUMENT',
        `the stack user's ${what} ${id} must be between 1 and 65533: a stack runs apps as a non-root user`,
      );
    }
  }
  return user;
}

/** Checks a stack name: one repository path component, so `NAME/run` and `NAME/build` are valid names. */
export function checkStackName(name: string): string {
  try {
    parseRepositoryName(`${name}/run`);
  } catch (err) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `stack name "${name}" must be lowercase letters and digits, separated by ".", "_" or "-" (e.g. default, bookworm-2026)`,
      { cause: err },
    );
  }
  if (name.includes('/')) throw new SlipwayError('INVALID_ARGUMENT', `stack name "${name}" must not contain "/"`);
  return name;
}

export function checkSuite(suite: string): string {
  if (!SUITE_RE.test(suite))
    throw new SlipwayError('INVALID_ARGUMENT', `"${suite}" is not a Debian suite name (e.g. bookworm, trixie, stable)`);
  return suite;
}

/** Checks an http(s) mirror URL and drops a trailing slash. */
export function checkMirror(mirror: string): string {
  let url: URL;
  try {
    url = new URL(mirror);
  } catch {
    throw new SlipwayError('INVALID_ARGUMENT', `mirror "${mirror}" is not a URL, e.g. http://deb.debian.org/debian`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SlipwayError('INVALID_ARGUMENT', `mirror "${mirror}" must be an http:// or https:// URL`);
  }
  return mirror.replace(/\/+$/, '');
}

/** The stack id written when none is given: one per stack name. */
export function defaultStackId(name: string): string {
  return `io.slipway.stacks.${name}`;
}

/** Every package the run image's mmdebstrap installs beyond minbase. */
export function runIncludes(req: DebianRequest): string[] {
  return [...new Set([...RUN_BASE_PACKAGES, ...req.runPackages])].sort();
}

/** Every package the build image's mmdebstrap installs beyond minbase (a superset of the run image's). */
export function buildIncludes(req: DebianRequest): string[] {
  return [...new Set([...runIncludes(req), ...BUILD_BASE_PACKAGES, ...req.buildPackages])].sort();
}

/** Reads a request back from its JSON label; undefined when it is not one. */
export function parseRequest(json: string | undefined): StackRequest | undefined {
  if (!json) return undefined;
  try {
    const value = JSON.parse(json) as StackRequest;
    return value && typeof value === 'object' && ['debian', 'rootfs', 'image'].includes(value.source)
      ? value
      : undefined;
  } catch {
    return undefined;
  }
}
