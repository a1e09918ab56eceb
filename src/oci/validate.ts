import { SlipwayError } from '../errors.js';
import { digestAlgorithm, digestOf, isDigest, parseDigest } from './digest.js';
import { checkJsonDepth } from './json-depth.js';
import {
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  MediaType,
  isIndexMediaType,
  isManifestMediaType,
} from './media-types.js';
import {
  type Shape,
  type ShapeIssue,
  anyValue,
  arrayOf,
  boolean,
  isPlainObject,
  mapOf,
  nullable,
  number,
  object,
  optional,
  shapeIssues,
  string,
} from './shape.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from './types.js';

/**
 * Validation of OCI image-spec 1.1 documents (and their Docker schema 2 twins) against
 * their shapes (shape.ts).
 * Unknown fields are kept and ignored, as the spec asks. The functions parse the bytes
 * once and return the document; they never re-serialise it, so digests are always taken
 * over the caller's untouched bytes.
 */

export type ManifestOrIndex =
  | { kind: 'manifest'; mediaType: string; document: ImageManifest }
  | { kind: 'index'; mediaType: string; document: ImageIndex };

type Input = Uint8Array | string;

const MAX_ISSUES_SHOWN = 3;
// RFC 6838 section 4.2 restricted names, as the image-spec JSON schema writes them.
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
const SCHEMA1_MEDIA_TYPES = [
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];

// --- field shapes ----------------------------------------------------------------

const mediaTypeField = string((v) =>
  MEDIA_TYPE_RE.test(v) ? undefined : `"${v}" is not a media type of the form type/subtype (RFC 6838)`,
);
const digestField = string((v) => (isDigest(v) ? undefined : digestProblem(v)));
const sizeField = number((v) =>
  Number.isSafeInteger(v) && v >= 0 ? undefined : `must be a non-negative integer, not ${v}`,
);
const urlField = string((v) => (URL.canParse(v) ? undefined : `"${v}" is not a URL (RFC 3986)`));
const base64Field = string((v) => (BASE64_RE.test(v) ? undefined : 'data is not standard base64 (RFC 4648)'));
const timestampField = string((v) =>
  isRfc3339(v) ? undefined : `"${v}" is not an RFC 3339 date-time such as 2024-05-01T12:00:00Z`,
);
const stringMap = mapOf(string());
const stringList = arrayOf(string());

const platformShape = object({
  architecture: string(),
  os: string(),
  'os.version': optional(string()),
  'os.features': optional(stringList),
  variant: optional(string()),
  features: optional(stringList),
});

const descriptorShape = object(
  {
    mediaType: mediaTypeField,
    digest: digestField,
    size: sizeField,
    urls: optional(arrayOf(urlField)),
    annotations: optional(stringMap),
    data: optional(base64Field),
    artifactType: optional(mediaTypeField),
    platform: optional(platformShape),
  },
  { at: 'data', rule: (d) => embeddedDataProblem(d as { data?: string; digest: string; size: number }) },
);

const schemaVersionField = anyValue((v) =>
  v === undefined ? 'is required and must be 2' : v !== 2 ? `must be 2, not ${JSON.stringify(v)}` : undefined,
);

function mediaTypeOneOf(allowed: readonly string[], what: string) {
  return string((v) =>
    allowed.includes(v) ? undefined : `"${v}" is not ${what} media type (expected ${allowed.join(' or ')})`,
  );
}

const manifestShape = object({
  schemaVersion: schemaVersionField,
  mediaType: optional(mediaTypeOneOf(MANIFEST_MEDIA_TYPES, 'an image manifest')),
  artifactType: optional(mediaTypeField),
  config: descriptorShape,
  layers: arrayOf(descriptorShape),
  subject: optional(descriptorShape),
  annotations: optional(stringMap),
});

const indexShape = object({
  schemaVersion: schemaVersionField,
  mediaType: optional(mediaTypeOneOf(INDEX_MEDIA_TYPES, 'an image index')),
  artifactType: optional(mediaTypeField),
  manifests: arrayOf(descriptorShape),
  subject: optional(descriptorShape),
  annotations: optional(stringMap),
});

const objectMap = mapOf(object({}));

const containerConfigShape = object({
  User: optional(string()),
  ExposedPorts: nullable(objectMap),
  Env: nullable(stringList),
  Entrypoint: nullable(stringList),
  Cmd: nullable(stringList),
  Volumes: nullable(objectMap),
  WorkingDir: optional(string()),
  Labels: nullable(stringMap),
  StopSignal: optional(string()),
  ArgsEscaped: optional(boolean()),
});

const configShape = object({
  created: optional(timestampField),
  author: optional(string()),
  architecture: string(),
  os: string(),
  'os.version': optional(string()),
  'os.features': optional(stringList),
  variant: optional(string()),
  config: nullable(containerConfigShape),
  rootfs: object({
    type: string((v) => (v === 'layers' ? undefined : `rootfs.type must be "layers", not "${v}"`)),
    diff_ids: arrayOf(digestField),
  }),
  history: optional(
    arrayOf(
      object({
        created: optional(timestampField),
        created_by: optional(string()),
        author: optional(string()),
        comment: optional(string()),
        empty_layer: optional(boolean()),
      }),
    ),
  ),
});

// --- public API ------------------------------------------------------------------

/**
 * Parses and validates an image manifest (OCI or Docker schema 2).
 *
 * @example
 *   const m = parseManifest(await readFile('blobs/sha256/…'));
 *   m.layers.length
 */
export function parseManifest(input: Input): ImageManifest {
  const doc = parseJson(input, 'manifest');
  rejectSchema1(doc, undefined);
  return validate(manifestShape, doc, 'image manifest') as unknown as ImageManifest;
}

/**
 * Parses and validates an image index (OCI) or manifest list (Docker).
 *
 * @example
 *   parseIndex(await readFile('layout/index.json')).manifests[0]?.digest
 */
export function parseIndex(input: Input): ImageIndex {
  const doc = parseJson(input, 'index');
  return validate(indexShape, doc, 'image index') as unknown as ImageIndex;
}

/**
 * Parses and validates an image config. `null` values docker writes for empty
 * `Env`, `Labels`, `Volumes`, `ExposedPorts` or `config` are dropped from the result.
 *
 * @example
 *   parseConfig(raw).rootfs.diff_ids  // ['sha256:…', …]
 */
export function parseConfig(input: Input): ImageConfig {
  const doc = parseJson(input, 'image config');
  return dropNulls(validate(configShape, doc, 'image config')) as unknown as ImageConfig;
}

/**
 * Validates a descriptor that arrived as a plain value (from JSON already parsed).
 *
 * @example
 *   validateDescriptor({ mediaType: MediaType.OciManifest, digest, size: 512 })
 */
export function validateDescriptor(value: unknown): Descriptor {
  return validate(descriptorShape, value, 'descriptor') as unknown as Descriptor;
}

/**
 * Parses a document that is either a manifest or an index, telling which by its
 * `mediaType` field, else by `mediaTypeHint` (a descriptor's or a Content-Type), else by
 * shape (`manifests` means an index, `config` or `layers` a manifest). When the field
 * and the hint are both known types they must agree.
 *
 * @example
 *   const r = parseManifestOrIndex(raw, desc.mediaType);
 *   if (r.kind === 'index') r.document.manifests; else r.document.layers;
 */
export function parseManifestOrIndex(input: Input, mediaTypeHint?: string): ManifestOrIndex {
  const doc = parseJson(input, 'manifest');
  rejectSchema1(doc, mediaTypeHint);
  const field = isPlainObject(doc) && typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const known = (mt: string | undefined) => isManifestMediaType(mt) || isIndexMediaType(mt);
  const hint = known(mediaTypeHint) ? mediaTypeHint : undefined;
  if (known(field) && hint !== undefined && field !== hint) {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `the document's mediaType "${field}" differs from the expected "${hint}"`,
      {
        detail: { field, expected: hint },
      },
    );
  }
  const kind = detectKind(doc, known(field) ? field : hint);
  if (kind === 'index') {
    const document = validate(indexShape, doc, 'image index') as unknown as ImageIndex;
    return { kind, mediaType: document.mediaType ?? hint ?? MediaType.OciIndex, document };
  }
  const document = validate(manifestShape, doc, 'image manifest') as unknown as ImageManifest;
  return { kind, mediaType: document.mediaType ?? hint ?? MediaType.OciManifest, document };
}

/**
 * True when `value` is an RFC 3339 date-time with a real calendar date and time.
 *
 * @example isRfc3339('2024-02-29T23:59:60Z')  // true;  isRfc3339('2023-02-29T00:00:00Z')  // false
 */
export function isRfc3339(value: string): boolean {
  const m = RFC3339_RE.exec(value);
  if (m === null) return false;
  const [year, month, day, hour, minute, second, offH, offM] = m
    .slice(1)
    .map((x) => (x === undefined ? 0 : Number(x))) as number[];
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  return (
    month! >= 1 &&
    month! <= 12 &&
    day! >= 1 &&
    day! <= daysInMonth &&
    hour! <= 23 &&
    minute! <= 59 &&
    second! <= 60 &&
    offH! <= 23 &&
    offM! <= 59
  );
}

// --- helpers -----------------------------------------------------------------

/** Parses JSON text, refusing documents nested too deeply before JSON.parse sees them (see json-depth.ts). */
function parseJson(input: Input, what: string): unknown {
  checkJsonDepth(input, undefined, what);
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch (err) {
      throw new SlipwayError('INVALID_DOCUMENT', `${what} is not valid UTF-8 text`, { cause: err });
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SlipwayError('INVALID_DOCUMENT', `${what} is not valid JSON: ${reason}`, { cause: err });
  }
}

/** Returns `doc` unchanged when it conforms to `shape`, else throws naming the first issues. */
function validate(shape: Shape, doc: unknown, what: string): Record<string, unknown> {
  const issues = shapeIssues(shape, doc).map(describeIssue);
  if (issues.length === 0) return doc as Record<string, unknown>;
  const shown = issues.slice(0, MAX_ISSUES_SHOWN).join('; ');
  const more = issues.length > MAX_ISSUES_SHOWN ? ` (and ${issues.length - MAX_ISSUES_SHOWN} more)` : '';
  throw new SlipwayError('INVALID_DOCUMENT', `invalid ${what}: ${shown}${more}`, { detail: { issues } });
}

/** One issue as `path: problem`, e.g. `layers[2].digest: invalid digest "sha256:xyz": …`. */
function describeIssue(issue: ShapeIssue): string {
  if (issue.path.length === 0) return issue.kind === 'type' ? `the document ${issue.message}` : issue.message;
  return `${formatPath(issue.path)}: ${issue.message}`;
}

function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

function digestProblem(value: string): string {
  try {
    parseDigest(value);
    return `invalid digest "${value}"`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** When a descriptor embeds `data`, the decoded bytes must match its size and digest. */
function embeddedDataProblem(d: { data?: string | undefined; digest: string; size: number }): string | undefined {
  if (d.data === undefined || !BASE64_RE.test(d.data) || !isDigest(d.digest)) return undefined;
  const bytes = Buffer.from(d.data, 'base64');
  if (bytes.length !== d.size) return `data decodes to ${bytes.length} bytes but size is ${d.size}`;
  const actual = digestOf(bytes, digestAlgorithm(d.digest));
  return actual === d.digest ? undefined : `data hashes to ${actual}, not to the descriptor's digest ${d.digest}`;
}

function rejectSchema1(doc: unknown, hint: string | undefined): void {
  const field = isPlainObject(doc) ? doc.mediaType : undefined;
  const isSchema1 =
    (isPlainObject(doc) && doc.schemaVersion === 1) ||
    SCHEMA1_MEDIA_TYPES.includes(String(field)) ||
    (hint !== undefined && SCHEMA1_MEDIA_TYPES.includes(hint));
  if (isSchema1) {
    throw new SlipwayError(
      'UNSUPPORTED',
      'Docker schema 1 manifests are not supported: pull the image by a tag that serves schema 2 or OCI, or convert it with `skopeo copy --format v2s2`',
    );
  }
}

function detectKind(doc: unknown, mediaType: string | undefined): 'manifest' | 'index' {
  if (isIndexMediaType(mediaType)) return 'index';
  if (isManifestMediaType(mediaType)) return 'manifest';
  if (isPlainObject(doc) && 'manifests' in doc) return 'index';
  if (isPlainObject(doc) && ('config' in doc || 'layers' in doc)) return 'manifest';
  const field = isPlainObject(doc) && typeof doc.mediaType === 'string' ? ` (its mediaType is "${doc.mediaType}")` : '';
  throw new SlipwayError(
    'INVALID_DOCUMENT',
    `cannot tell whether this document is an image manifest or an index${field}: it has neither "config" nor "manifests"`,
  );
}

const NULLABLE_CONTAINER_FIELDS = ['Env', 'Labels', 'Volumes', 'ExposedPorts'] as const;

/** Drops the nulls docker writes for empty maps and lists, so the result matches ImageConfig. */
function dropNulls<T extends { config?: Record<string, unknown> | null | undefined }>(doc: T): T {
  if (doc.config === undefined) return doc;
  const out = { ...doc };
  if (doc.config === null) {
    delete out.config;
    return out;
  }
  const config = { ...doc.config };
  for (const key of NULLABLE_CONTAINER_FIELDS) if (config[key] === null) delete config[key];
  out.config = config;
  return out;
}
