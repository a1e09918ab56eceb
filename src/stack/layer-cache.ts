import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../oci/digest.js';
import type { StoreLease } from '../store/local-store.js';
import type { WrittenLayer } from '../copy/import-rootfs.js';
import type { RootfsFacts } from './rootfs-facts.js';

/**
 * Stack layers already made, kept outside any one store (default
 * /var/cache/slipway/stacks as root, else $SLIPWAY_HOME/cache/stacks): the layer blob
 * exactly as Slipway wrote it, and the facts read from its rootfs. The key hashes
 * everything the bootstrap depends on (the mirror's InRelease included), so a hit
 * is the layer mmdebstrap would make again, and no bootstrap runs.
 */
export interface CachedLayer {
  layer: WrittenLayer;
  facts: RootfsFacts;
  /** When it was made (ISO), for `stack inspect`. */
  made: string;
}

/** The cache directory: $SLIPWAY_STACK_CACHE, else /var/cache/slipway/stacks as root, else under the store. */
export function defaultCacheDir(storeHome: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env['SLIPWAY_STACK_CACHE']) return env['SLIPWAY_STACK_CACHE'];
  return process.getuid?.() === 0 ? '/var/cache/slipway/stacks' : join(storeHome, 'cache', 'stacks');
}

/** A cache key: sha256 of the canonical JSON of `parts` (keys sorted). */
export function cacheKey(parts: Record<string, unknown>): string {
  return createHash('sha256')
    .update(JSON.stringify(parts, Object.keys(parts).sort()))
    .digest('hex');
}

export class LayerCache {
  constructor(readonly dir: string) {}

  async get(key: string): Promise<CachedLayer | undefined> {
    const text = await readFile(join(this.dir, 'layers', key, 'meta.json'), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as CachedLayer);
  }

  /** Puts a cached layer's blob into the store (verified against its digest) unless it is there already. */
  async importInto(lease: StoreLease, key: string, cached: CachedLayer): Promise<void> {
    if (await lease.ensureBlob(cached.layer.digest as Digest)) return;
    await lease.putBlob(createReadStream(join(this.dir, 'layers', key, 'layer'), { highWaterMark: 1 << 20 }), {
      digest: cached.layer.digest as Digest,
      size: cached.layer.size,
    });
  }

  /** A writer for a new entry: feed it the layer bytes, then commit with what was made (or abort). */
  async entryWriter(key: string): Promise<CacheEntryWriter> {
    const tmp = join(this.dir, 'layers', `.tmp-${key}-${randomUUID()}`);
    await mkdir(tmp, { recursive: true });
    return new CacheEntryWriter(join(this.dir, 'layers', key), tmp, await open(join(tmp, 'layer'), 'w'));
  }
}

export class CacheEntryWriter {
  constructor(
    private readonly final: string,
    private readonly tmp: string,
    private readonly file: FileHandle,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    await this.file.write(chunk);
  }

  /** Makes the entry visible at once (rename), or leaves an existing one as it is. */
  async commit(entry: CachedLayer): Promise<void> {
    await this.file.sync();
    await this.file.close();
    await writeFile(join(this.tmp, 'meta.json'), JSON.stringify(entry));
    await rm(this.final, { recursive: true, force: true });
    await rename(this.tmp, this.final).catch(() => rm(this.tmp, { recursive: true, force: true }));
  }

  async abort(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await rm(this.tmp, { recursive: true, force: true });
  }
}
