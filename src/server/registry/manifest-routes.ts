import type { Digest } from '../../oci/digest.js';
import { accepts } from './accept.js';
import { authorize, repositoryAccess, type Call, type RegistryContext } from './context.js';
import { RegistryError } from './errors.js';
import { pushManifest } from './manifest-push.js';
import { checkTag, isTag, type Route } from './paths.js';
import { notModified, readBounded, reply } from './respond.js';

type ManifestCall = Call<Extract<Route, { kind: 'manifest' }>>;

/** GET and HEAD /v2/<name>/manifests/<reference>: the stored bytes, never converted. */
export async function getManifest(reg: RegistryContext, call: ManifestCall): Promise<Response> {
  const { name, reference } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'pull')]);
  if (reference.tag !== undefined && !isTag(reference.tag)) throw noSuchTag(name, reference.tag);
  const desc = await reg.store.resolve(call.repository, reference.digest ?? reference.tag);
  if (!accepts(call.request.headers.get('accept'), desc.mediaType)) {
    throw new RegistryError(
      'MANIFEST_UNKNOWN',
      `${name} has a ${desc.mediaType} here, which the Accept header does not list`,
      {
        detail: { mediaType: desc.mediaType },
      },
    );
  }
  const etag = `"${desc.digest}"`;
  const headers = { 'Content-Type': desc.mediaType, 'Docker-Content-Digest': desc.digest, ETag: etag };
  if (notModified(call.request, etag)) return reply(304, headers);
  if (call.request.method === 'HEAD') return reply(200, { ...headers, 'Content-Length': String(desc.size) });
  const bytes = await manifestBytes(reg, desc.digest, desc.size);
  call.bytesOut = bytes.length;
  return reply(200, { ...headers, 'Content-Length': String(bytes.length) }, bytes);
}

/** PUT /v2/<name>/manifests/<reference>[?tag=…]: stores the exact bytes pushed. */
export async function putManifest(reg: RegistryContext, call: ManifestCall): Promise<Response> {
  const { name, reference } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'pull', 'push')]);
  if (reference.tag !== undefined) checkTag(reference.tag);
  const bytes = await readBounded(call, reg.limits.maxManifestBytes, manifestTooLarge);
  call.bytesIn += bytes.length;
  // Tags as query parameters (spec.md, "tag" parameters on a push by digest) are honoured on any push.
  const tags = [
    ...new Set([...(reference.tag === undefined ? [] : [reference.tag]), ...call.query.getAll('tag').map(checkTag)]),
  ];
  const pushed = await pushManifest(reg.store, {
    repository: call.repository,
    bytes,
    contentType: call.request.headers.get('content-type') ?? undefined,
    tags,
    ...(reference.digest === undefined ? {} : { digest: reference.digest }),
  });
  const { digest } = pushed.descriptor;
  reg.manifests.set(digest, bytes);
  reg.emit({ type: 'manifest', action: 'pushed', repository: call.repository, digest });
  const headers: Record<string, string> = {
    Location: `/v2/${name}/manifests/${digest}`,
    'Docker-Content-Digest': digest,
    'Content-Length': '0',
  };
  if (pushed.subject !== undefined) headers['OCI-Subject'] = pushed.subject;
  if (call.query.has('tag') && tags.length > 0) headers['OCI-Tag'] = tags.join(', ');
  return reply(201, headers);
}

/**
 * DELETE /v2/<name>/manifests/<reference>. By digest: the manifest and the tags on it
 * (refused with 409 while an index of the repository still lists it). By tag: only
 * the tag, as the spec and Distribution do; the manifest stays, reachable by digest.
 */
export async function deleteManifest(reg: RegistryContext, call: ManifestCall): Promise<Response> {
  const { name, reference } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'delete')]);
  if (reference.tag !== undefined && !isTag(reference.tag)) throw noSuchTag(name, reference.tag);
  const deleted =
    reference.digest !== undefined
      ? await reg.store.meta.deleteManifest(call.repository, reference.digest)
      : await reg.store.meta.deleteTag(call.repository, reference.tag);
  if (!deleted)
    throw new RegistryError(
      'MANIFEST_UNKNOWN',
      `${name} has no manifest ${reference.digest ?? `tagged ${reference.tag}`}`,
    );
  if (reference.digest !== undefined)
    reg.emit({ type: 'manifest', action: 'deleted', repository: call.repository, digest: reference.digest });
  return reply(202, { 'Content-Length': '0' });
}

async function manifestBytes(reg: RegistryContext, digest: Digest, size: number): Promise<Uint8Array> {
  const cached = reg.manifests.get(digest);
  if (cached !== undefined) return cached;
  // `size` as the limit: a manifest stored by the CLI may exceed what a push may send.
  const bytes = await reg.store.blobs.read(digest, size);
  reg.manifests.set(digest, bytes);
  return bytes;
}

function manifestTooLarge(max: number): RegistryError {
  return new RegistryError('MANIFEST_INVALID', `the manifest is larger than the ${max} bytes this registry accepts`, {
    status: 413,
    detail: { limit: max },
  });
}

/** A tag outside the spec's grammar names nothing: as unknown as any other (the conformance suite asks 404). */
function noSuchTag(name: string, tag: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', `${name} has no manifest tagged "${tag}" (not a valid tag)`, {
    detail: { tag },
  });
}
