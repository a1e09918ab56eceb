import { SlipwayError } from '../errors.js';
import { parseDigest, type Digest } from './digest.js';

/**
 * Image references, parsed as docker and skopeo parse them: distribution/reference's
 * `ParseNormalizedNamed` followed by `TagNameOnly`.
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] path
 *   domain    := host [ ":" port ]           host: DNS name, IPv4, or [IPv6]
 *   path      := component ( "/" component )*
 *   component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag       := [\w][\w.-]{0,127}
 *
 * The first path element is a registry host when it contains "." or ":" or is
 * "localhost"; otherwise the domain is docker.io, and a one-element name on docker.io
 * gets the "library/" prefix. The whole name (domain/path) has at most 255 characters.
 *
 * Where docker and skopeo differ, this follows skopeo's containers/image: an uppercase
 * first element is not taken for a host ("Foo/bar" must be lowercase, where docker 28
 * reads host "Foo"), and the 255-character limit counts the domain too (docker counts
 * only the path). IPv6 hosts and `name:tag@digest` are accepted, as docker does.
 */
export interface Reference {
  /** Registry host with optional port, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/alpine`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: Digest;
  /** `domain/path`, e.g. `docker.io/library/alpine`. */
  readonly name: string;
  /** The short form docker shows (FamiliarString), e.g. `alpine:3.20`. */
  readonly familiar: string;
  /** The canonical form, e.g. `docker.io/library/alpine:3.20`. */
  toString(): string;
}

/** A name in Slipway's local store: no registry host. */
export interface LocalName {
  name: string;
  tag?: string;
  digest?: Digest;
}

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
/** The longest name (`domain/path`, or a repository name alone) accepted. */
export const MAX_NAME_LENGTH = 255;

const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';

const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6_ADDRESS = '\\[(?:[a-fA-F0-9:]+)\\]';

const PATH_COMPONENT_RE = new RegExp(`^${PATH_COMPONENT}$`);
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_NAME}|${IPV6_ADDRESS})(?::[0-9]+)?$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

const REFERENCE_EXAMPLE = 'docker.io/library/alpine:3.20';
const COMPONENT_RULE =
  'a path component is lowercase letters and digits, separated by ".", "_", "__" or dashes, starting and ending with a letter or digit';
const TAG_RULE = 'a tag is 1 to 128 letters, digits, "_", "." or "-", and does not start with "." or "-"';

class ParsedReference implements Reference {
  readonly domain: string;
  readonly path: string;
  // `declare`: an absent tag or digest is no own property at all, not one set to undefined.
  declare readonly tag?: string;
  declare readonly digest?: Digest;
  readonly name: string;
  readonly familiar: string;

  constructor(domain: string, path: string, tag: string | undefined, digest: Digest | undefined) {
    this.domain = domain;
    this.path = path;
    if (tag !== undefined) this.tag = tag;
    if (digest !== undefined) this.digest = digest;
    this.name = `${domain}/${path}`;
    this.familiar = familiarName(domain, path) + suffix(tag, digest);
  }

  toString(): string {
    return this.name + suffix(this.tag, this.digest);
  }
}

/**
 * Parses an image reference as `docker pull` does, filling in docker.io, `library/`
 * and the tag `latest` (only when there is neither a tag nor a digest).
 *
 * @example
 *   parseReference('alpine').toString()            // 'docker.io/library/alpine:latest'
 *   parseReference('localhost:5000/a/b:v1').domain  // 'localhost:5000'
 *   parseReference('alpine@sha256:…').tag           // undefined
 */
export function parseReference(input: string): Reference {
  const fail = (reason: string): never => invalid('image reference', input, reason, REFERENCE_EXAMPLE);
  if (input === '') fail('it is empty');
  if (IDENTIFIER_RE.test(input)) {
    fail('a 64-character hex string is an image ID, not a name (write NAME@sha256:<hex> to pin a digest)');
  }
  const { rest, digest } = splitDigest(input, fail);
  const { name, tag } = splitTag(rest, fail);
  const { domain, path } = splitDockerDomain(name);
  checkDomain(domain, fail);
  checkPath(path, fail);
  checkLength(`${domain}/${path}`, fail);
  return new ParsedReference(domain, path, tag ?? (digest === undefined ? DEFAULT_TAG : undefined), digest);
}

/**
 * Builds a reference from parts that are already split, validating each; no defaults
 * are filled in.
 *
 * @example
 *   makeReference({ domain: 'localhost:5000', path: 'team/app', tag: 'v1' }).toString()
 *   // 'localhost:5000/team/app:v1'
 */
export function makeReference(parts: { domain: string; path: string; tag?: string; digest?: string }): Reference {
  const shown = parts.domain + '/' + parts.path + suffix(parts.tag, parts.digest);
  const fail = (reason: string): never => invalid('image reference', shown, reason, REFERENCE_EXAMPLE);
  if (parts.domain === '') fail('the registry host is empty');
  checkDomain(parts.domain, fail);
  checkPath(parts.path, fail);
  checkLength(`${parts.domain}/${parts.path}`, fail);
  if (parts.tag !== undefined) checkTag(parts.tag, fail);
  const digest = parts.digest === undefined ? undefined : checkDigest(parts.digest, fail);
  return new ParsedReference(parts.domain, parts.path, parts.tag, digest);
}

/**
 * Validates a repository name as a registry or the store uses it: path components
 * joined by "/", no host, tag or digest, at most 255 characters.
 *
 * @example
 *   parseRepositoryName('org/space/app')  // 'org/space/app'
 *   parseRepositoryName('App')            // throws INVALID_REFERENCE: must be lowercase
 */
export function parseRepositoryName(input: string): string {
  const fail = (reason: string): never => invalid('repository name', input, reason, 'org/space/app');
  if (input === '') fail('it is empty');
  if (/[:@]/.test(input)) fail('a repository name has no tag or digest (drop the ":…" or "@…" part)');
  checkPath(input, fail);
  checkLength(input, fail);
  return input;
}

/**
 * Parses a name in the local store, `NAME[:TAG][@DIGEST]`, where NAME follows the path
 * grammar and names no registry host. The tag defaults to `latest` when neither a tag
 * nor a digest is given.
 *
 * @example
 *   parseLocalName('myapp')           // { name: 'myapp', tag: 'latest' }
 *   parseLocalName('team/web:v2')     // { name: 'team/web', tag: 'v2' }
 *   parseLocalName('ghcr.io/a/b')     // throws: names a registry host
 */
export function parseLocalName(input: string): LocalName {
  const fail = (reason: string): never => invalid('local image name', input, reason, 'team/myapp:v1');
  if (input === '') fail('it is empty');
  if (IDENTIFIER_RE.test(input)) fail('a 64-character hex string is an image ID, not a name');
  const { rest, digest } = splitDigest(input, fail);
  const { name, tag } = splitTag(rest, fail);
  if (hasRegistryHost(name)) {
    fail(
      `"${name.slice(0, name.indexOf('/'))}" is a registry host; local names have none (use docker://${input} for a registry image)`,
    );
  }
  checkPath(name, fail);
  checkLength(name, fail);
  const result: LocalName = { name };
  const effectiveTag = tag ?? (digest === undefined ? DEFAULT_TAG : undefined);
  if (effectiveTag !== undefined) result.tag = effectiveTag;
  if (digest !== undefined) result.digest = digest;
  return result;
}

/**
 * Formats a local name back to `NAME[:TAG][@DIGEST]`.
 *
 * @example formatLocalName({ name: 'myapp', tag: 'v1' })  // 'myapp:v1'
 */
export function formatLocalName(n: LocalName): string {
  return n.name + suffix(n.tag, n.digest);
}

/**
 * True when the text before the first "/" names a registry host: it contains "." or
 * ":", or is `localhost`. A name without "/" never has a host (as in docker).
 *
 * @example
 *   hasRegistryHost('ghcr.io/org/app')  // true
 *   hasRegistryHost('org/app')          // false
 *   hasRegistryHost('localhost:5000')   // false (this is name "localhost", tag "5000")
 */
export function hasRegistryHost(name: string): boolean {
  const slash = name.indexOf('/');
  if (slash < 0) return false;
  const first = name.slice(0, slash);
  return first === 'localhost' || /[.:]/.test(first);
}

/**
 * True when `tag` is a valid tag.
 *
 * @example isValidTag('v1.2.3')  // true;  isValidTag('.hidden')  // false
 */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

// --- helpers -------------------------------------------------------------------

function invalid(what: string, input: string, reason: string, example: string): never {
  throw new SlipwayError('INVALID_REFERENCE', `invalid ${what} "${input}": ${reason} (a valid example: ${example})`, {
    detail: { input },
  });
}

function suffix(tag: string | undefined, digest: string | undefined): string {
  return (tag === undefined ? '' : `:${tag}`) + (digest === undefined ? '' : `@${digest}`);
}

function familiarName(domain: string, path: string): string {
  if (domain !== DEFAULT_DOMAIN) return `${domain}/${path}`;
  if (path.startsWith(OFFICIAL_PREFIX) && !path.slice(OFFICIAL_PREFIX.length).includes('/')) {
    return path.slice(OFFICIAL_PREFIX.length);
  }
  return path;
}

/** Splits `rest@digest` at the first "@" and validates the digest. */
function splitDigest(input: string, fail: (reason: string) => never): { rest: string; digest?: Digest } {
  const at = input.indexOf('@');
  if (at < 0) return { rest: input };
  if (at === 0) fail('the name before "@" is missing');
  return { rest: input.slice(0, at), digest: checkDigest(input.slice(at + 1), fail) };
}

/** Splits `name:tag` at the first ":" after the last "/" (a ":" before it is a port). */
function splitTag(rest: string, fail: (reason: string) => never): { name: string; tag?: string } {
  const colon = rest.indexOf(':', rest.lastIndexOf('/') + 1);
  if (colon < 0) return { name: rest };
  if (colon === 0) fail('the name before ":" is missing');
  const tag = rest.slice(colon + 1);
  checkTag(tag, fail);
  return { name: rest.slice(0, colon), tag };
}

/** distribution/reference's splitDockerDomain: which part is the registry host. */
function splitDockerDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  if (slash < 0) return { domain: DEFAULT_DOMAIN, path: OFFICIAL_PREFIX + name };
  const first = name.slice(0, slash);
  const remainder = name.slice(slash + 1);
  let domain: string;
  let path: string;
  if (first === LEGACY_DEFAULT_DOMAIN) [domain, path] = [DEFAULT_DOMAIN, remainder];
  else if (first === 'localhost' || /[.:]/.test(first)) [domain, path] = [first, remainder];
  else [domain, path] = [DEFAULT_DOMAIN, name];
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_PREFIX + path;
  return { domain, path };
}

function checkDomain(domain: string, fail: (reason: string) => never): void {
  if (!DOMAIN_RE.test(domain)) {
    fail(`registry host "${domain}" is not a host name, IPv4 address or [IPv6] address with an optional :port`);
  }
}

function checkPath(path: string, fail: (reason: string) => never): void {
  if (path.toLowerCase() !== path) fail(`repository name "${path}" must be lowercase`);
  for (const component of path.split('/')) {
    if (component === '')
      fail(`repository name "${path}" has an empty path component (look for "//" or a "/" at either end)`);
    if (!PATH_COMPONENT_RE.test(component)) fail(`path component "${component}" is invalid: ${COMPONENT_RULE}`);
  }
}

function checkLength(name: string, fail: (reason: string) => never): void {
  if (name.length > MAX_NAME_LENGTH)
    fail(`the name is ${name.length} characters long, at most ${MAX_NAME_LENGTH} are allowed`);
}

function checkTag(tag: string, fail: (reason: string) => never): void {
  if (tag === '') fail('the tag after ":" is empty');
  if (!TAG_RE.test(tag)) fail(`tag "${tag}" is invalid: ${TAG_RULE}`);
}

function checkDigest(digest: string, fail: (reason: string) => never): Digest {
  if (digest === '') fail('the digest after "@" is empty');
  try {
    return parseDigest(digest);
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}
