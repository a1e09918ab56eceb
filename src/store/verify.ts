import { isSlipwayError } from '../errors.js';
import { digestAlgorithm, digestStream, type Digest } from '../oci/digest.js';
import type { BlobStore, MetadataStore } from './types.js';

export type VerifyProblem =
  /** A blob's bytes do not hash to its name. */
  | { kind: 'corrupt-blob'; digest: Digest; actual: Digest; message: string }
  /** A manifest, or a blob a manifest references, is not in the blob store. */
  | { kind: 'missing-blob'; digest: Digest; repository: string; manifest: Digest; message: string }
  /** A tag points at a manifest the repository does not have. */
  | { kind: 'dangling-tag'; digest: Digest; repository: string; tag: string; message: string };

export interface VerifyReport {
  blobsChecked: number;
  manifestsChecked: number;
  tagsChecked: number;
  /** Empty when the store is healthy. */
  problems: VerifyProblem[];
}

/**
 * Checks the whole store: re-hashes every blob (streamed), checks that every
 * manifest's own blob and references exist and that every tag points at a manifest.
 * Reads only; run it while nothing deletes (GC) for an exact answer.
 */
export async function verifyStore(blobs: BlobStore, meta: MetadataStore): Promise<VerifyReport> {
  const report: VerifyReport = { blobsChecked: 0, manifestsChecked: 0, tagsChecked: 0, problems: [] };
  for await (const digest of blobs.list()) {
    const stream = await blobs.open(digest).catch((err: unknown) => {
      if (isSlipwayError(err, 'BLOB_UNKNOWN')) return undefined; // deleted since listed: nothing to check
      throw err;
    });
    if (stream === undefined) continue;
    report.blobsChecked++;
    const { digest: actual } = await digestStream(stream, digestAlgorithm(digest));
    if (actual !== digest)
      report.problems.push({
        kind: 'corrupt-blob',
        digest,
        actual,
        message: `blob ${digest} is corrupt: its bytes hash to ${actual}`,
      });
  }
  for (const m of await meta.listManifests()) {
    report.manifestsChecked++;
    for (const digest of [m.digest, ...m.references]) {
      if ((await blobs.stat(digest)) !== undefined) continue;
      const what = digest === m.digest ? 'its own bytes' : 'a blob it references';
      report.problems.push({
        kind: 'missing-blob',
        digest,
        repository: m.repository,
        manifest: m.digest,
        message: `manifest ${m.repository}@${m.digest}: ${what}, ${digest}, is missing`,
      });
    }
  }
  for (const t of await meta.listTagged()) {
    report.tagsChecked++;
    if ((await meta.getManifest(t.repository, t.digest)) !== undefined) continue;
    report.problems.push({
      kind: 'dangling-tag',
      digest: t.digest,
      repository: t.repository,
      tag: t.tag,
      message: `tag ${t.repository}:${t.tag} points at ${t.digest}, which the repository does not have`,
    });
  }
  return report;
}
