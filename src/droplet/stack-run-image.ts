import { SlipwayError } from '../errors.js';
import type { Image } from '../image/types.js';
import type { Digest } from '../oci/digest.js';
import { silentProgress, type Progress } from '../progress.js';
import { ensureDefaultStack, latestVersion } from '../stack/index.js';
import type { LocalStore } from '../store/local-store.js';
import { readLocal } from '../transport/local.js';

/** A stack's newest version with its images read from the store. */
export interface ResolvedStack {
  name: string;
  version: string;
  run: Digest;
  build: Digest;
  runImage: Image;
  buildImage: Image;
  /** The stack user (the run image's User, uid:gid). */
  user: { uid: number; gid: number };
}

/**
 * The newest version of stack `name` (default: the default stack, made on first use),
 * with its run and build images.
 */
export async function resolveStack(
  store: LocalStore,
  name: string | undefined,
  progress: Progress = silentProgress,
): Promise<ResolvedStack> {
  let s: { name: string; version: string; run: Digest; build: Digest };
  if (name === undefined) {
    s = await ensureDefaultStack(store, { progress });
  } else {
    const latest = await latestVersion(store, name);
    if (!latest)
      throw new SlipwayError('NOT_FOUND', `there is no stack "${name}": make it with slipway stack create ${name}`, {
        detail: { stack: name },
      });
    s = { name, version: latest.version, run: latest.run.digest, build: latest.build.digest };
  }
  const run = await readLocal(store, `${s.name}/run`, s.run);
  const build = await readLocal(store, `${s.name}/build`, s.build);
  if (run.artifact.kind !== 'image' || build.artifact.kind !== 'image')
    throw new SlipwayError('INVALID_DOCUMENT', `stack ${s.name}: its images are indexes`);
  const config = await run.artifact.image.config();
  const [uid, gid] = (config.config?.User ?? '1000:1000').split(':').map(Number);
  const user = {
    uid: Number.isInteger(uid) ? uid! : 1000,
    gid: Number.isInteger(gid) ? gid! : Number.isInteger(uid) ? uid! : 1000,
  };
  return { ...s, runImage: run.artifact.image, buildImage: build.artifact.image, user };
}
