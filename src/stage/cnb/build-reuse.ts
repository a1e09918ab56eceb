import { createHash } from 'node:crypto';
import {
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  renameSync,
  statSync,
  writeFileSync,
  type BigIntStats,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isErrno } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import type { LocalStore } from '../../store/local-store.js';
import { readLocal } from '../../transport/local.js';
import { appSourceEntries, IGNORE_FILES } from '../app-source.js';
import { BUILTIN_BUILDPACKS } from './paths.js';
import type { StageReport } from './stage.js';

/**
 * The no-change shortcut of `slipway build`: a key over everything that decides a
 * build's result, and a record of which image each recent key produced. A build whose
 * key was seen, with that image still whole in the store, is answered by re-tagging
 * it: no container, no copy of the source, no export.
 *
 * The key holds the source as the build copies it (each entry's path, type, mode,
 * link target, hardlink group and, for files, a sha256 of the content), the ignore
 * files and project.toml, every buildpack tree (built-in, builder, -b, buildpackage),
 * the launcher, the build and run image digests, the env, the platform options and
 * Slipway's version. Content hashes are cached per file by (dev, ino, size, mtime,
 * ctime), so an unchanged tree costs stats only: a write changes ctime even when mtime
 * and size are put back. A hash is not cached while its file is younger than
 * RACY_SECONDS (a write in the same clock tick as the hash would leave the stat equal).
 *
 * The record (`<home>/build-reuse/<repository>.json`) is the host's own, written
 * atomically (tmp + rename); a lost or unreadable one only costs a real build.
 */
const KEY_VERSION = 'slipway-build-reuse/1';
/** Records kept per repository: switching between a few variants still hits. */
const MAX_RECORDS = 8;
/** A file changed this recently may change again within the same stat tick: hashed, not cached. */
const RACY_SECONDS = 2n;
/** Files are hashed in reads of this size: memory stays flat whatever their size. */
const READ_CHUNK = 1 << 20;

export interface ReuseRecord {
  key: string;
  digest: Digest;
  /** When the image was built (ISO time). */
  builtAt: string;
  report: Omit<StageReport, 'repository' | 'tag'>;
}

interface ReuseFile {
  version: 1;
  /** Absolute path -> [dev, ino, size, mtimeNs, ctimeNs, sha256]. */
  files: Record<string, [string, string, string, string, string, string]>;
  records: ReuseRecord[];
}

/** What, besides the source and the buildpack trees, decides a build's result. */
export interface ReuseInputs {
  appDir: string;
  filter?: ((relativePath: string, isDir: boolean) => boolean) | undefined;
  /** Directories and files of buildpacks, builders and buildpackages, hashed whole. */
  trees: string[];
  /** Everything else, as JSON: stack and image digests, env, options, buildpack specs. */
  values: Record<string, unknown>;
}

/** The key -> image records of one repository, and the per-file hash cache its builds use. */
export class BuildReuse {
  readonly file: string;
  readonly #home: string;
  #data: ReuseFile;
  /** The hashes this build used: the only ones written back (the cache never outgrows the trees). */
  #seen = new Map<string, ReuseFile['files'][string]>();
  /** A hash was made (not read from the cache) and kept: worth writing back even after a hit. */
  #hashed = false;

  private constructor(home: string, file: string, data: ReuseFile) {
    this.#home = home;
    this.file = file;
    this.#data = data;
  }

  static open(storeHome: string, repository: string): BuildReuse {
    const hash = createHash('sha256').update(repository).digest('hex').slice(0, 12);
    const file = join(storeHome, 'build-reuse', `${repository.replace(/[^A-Za-z0-9._-]+/g, '_')}-${hash}.json`);
    let data: ReuseFile = { version: 1, files: {}, records: [] };
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as ReuseFile;
      if (parsed.version === 1 && parsed.files && Array.isArray(parsed.records)) data = parsed;
    } catch (err) {
      // Absent or damaged: start empty (a miss, never a wrong hit).
      if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
    }
    return new BuildReuse(storeHome, file, data);
  }

  /** The build key of these inputs (sha256 hex). */
  key(inputs: ReuseInputs): string {
    const h = createHash('sha256');
    const line = (s: string) => h.update(`${s}\n`);
    line(KEY_VERSION);
    line(`slipway ${slipwayVersion()}`);
    line(`values ${stableJson(inputs.values)}`);
    const app = resolve(inputs.appDir);
    // The ignore files and project.toml decide what is copied and how it is built, even when ignored themselves.
    for (const name of [...IGNORE_FILES, 'project.toml']) line(`app-file ${name} ${this.#fileDigest(join(app, name))}`);
    const { entries } = appSourceEntries(app, { skip: [this.#home], filter: inputs.filter });
    const links = new Map<string, string>();
    for (const rel of entries) line(`src ${rel} ${this.#entry(join(app, rel), rel, links)}`);
    for (const tree of [join(BUILTIN_BUILDPACKS, '..', 'launcher'), ...inputs.trees])
      this.#tree(resolve(tree), (s) => line(s));
    return h.digest('hex');
  }

  /** The record of `key` whose image `repository@digest` is still whole in the store, else undefined. */
  async find(store: LocalStore, repository: string, key: string): Promise<ReuseRecord | undefined> {
    const record = this.#data.records.find((r) => r.key === key);
    if (!record) return undefined;
    return (await imageIsWhole(store, repository, record.digest)) ? record : undefined;
  }

  /** Records that `key` built `report` (newest first, MAX_RECORDS kept) and saves the file. */
  remember(key: string, report: StageReport): void {
    const { repository: _r, tag: _t, ...rest } = report;
    const record: ReuseRecord = { key, digest: report.digest, builtAt: new Date().toISOString(), report: rest };
    this.#data.records = [record, ...this.#data.records.filter((r) => r.key !== key)].slice(0, MAX_RECORDS);
    this.save();
  }

  /** save() when this build hashed a file the cache did not have (a hit otherwise writes nothing). */
  saveIfHashed(): void {
    if (this.#hashed) this.save();
  }

  /** Writes the records and the hashes this build used (tmp + rename). */
  save(): void {
    const data: ReuseFile = { version: 1, files: Object.fromEntries(this.#seen), records: this.#data.records };
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, JSON.stringify(data));
    renameSync(tmp, this.file);
  }

  /** One source entry as the build copies it: type, mode, and content, link target or hardlink group. */
  #entry(path: string, rel: string, links: Map<string, string>): string {
    const st = lstatSync(path, { bigint: true });
    const mode = (Number(st.mode) & 0o7777).toString(8);
    if (st.isSymbolicLink()) return `l ${mode} ${readlinkSync(path)}`;
    if (st.isDirectory()) return `d ${mode}`;
    if (st.isFile()) {
      if (st.nlink > 1n) {
        const id = `${st.dev}:${st.ino}`;
        const first = links.get(id);
        if (first !== undefined) return `h ${mode} ${first}`;
        links.set(id, rel);
      }
      return `f ${mode} ${st.size} ${this.#contentHash(path, st)}`;
    }
    // A fifo, socket or device: tar copies its kind and numbers, not contents.
    return `o ${mode} ${st.mode} ${st.rdev}`;
  }

  /** Every entry under `root` (links not followed), sorted: buildpacks are copied whole into the build. */
  #tree(root: string, out: (line: string) => void): void {
    let st: BigIntStats;
    try {
      st = statSync(root, { bigint: true });
    } catch (err) {
      if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
      out(`tree ${root} absent`);
      return;
    }
    out(`tree ${root}`);
    if (!st.isDirectory()) {
      out(`  . f ${(Number(st.mode) & 0o7777).toString(8)} ${st.size} ${this.#contentHash(root, st)}`);
      return;
    }
    const links = new Map<string, string>();
    const walk = (rel: string) => {
      const names = readdirSync(rel ? join(root, rel) : root).sort();
      for (const name of names) {
        const r = rel ? `${rel}/${name}` : name;
        const entry = this.#entry(join(root, r), r, links);
        out(`  ${r} ${entry}`);
        if (entry.startsWith('d ')) walk(r);
      }
    };
    walk('');
  }

  #fileDigest(path: string): string {
    try {
      const st = statSync(path, { bigint: true });
      return st.isFile() ? this.#contentHash(path, st) : 'not-a-file';
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return 'absent';
      throw err;
    }
  }

  /** sha256 of a file's bytes, from the cache when its stat is the one hashed before. */
  #contentHash(path: string, st: BigIntStats): string {
    const stat: [string, string, string, string, string] = [
      String(st.dev),
      String(st.ino),
      String(st.size),
      String(st.mtimeNs),
      String(st.ctimeNs),
    ];
    const cached = this.#data.files[path];
    if (cached && stat.every((v, i) => cached[i] === v)) {
      this.#seen.set(path, cached);
      return cached[5];
    }
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    const fd = openSync(path, 'r');
    try {
      for (let n: number; (n = readSync(fd, buf, 0, READ_CHUNK, null)) > 0; ) h.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    const sha = h.digest('hex');
    const now = BigInt(Date.now()) * 1_000_000n;
    if (now - st.mtimeNs > RACY_SECONDS * 1_000_000_000n && now - st.ctimeNs > RACY_SECONDS * 1_000_000_000n) {
      this.#seen.set(path, [...stat, sha]);
      this.#hashed = true;
    }
    return sha;
  }
}

/** The image's manifest is in the repository and its config and layer blobs are in the store. */
async function imageIsWhole(store: LocalStore, repository: string, digest: Digest): Promise<boolean> {
  try {
    await store.resolve(repository, digest);
    const { artifact } = await readLocal(store, repository, digest);
    if (artifact.kind !== 'image') return false;
    const manifest = JSON.parse(Buffer.from(await artifact.image.rawManifest()).toString('utf8')) as {
      config: { digest: Digest };
      layers: { digest: Digest }[];
    };
    for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)])
      if (!(await store.blobs.stat(d))) return false;
    return true;
  } catch {
    // Gone, half-collected or unreadable: build it for real.
    return false;
  }
}

let version: string | undefined;
/**
 * The version in Slipway's package.json (next to buildpacks/), and when this code runs
 * from the CLI bundle, the bundle's hash (its manifest.json beside this chunk): a new
 * release, or a rebuilt bundle whose staging code changed, never reuses an older one's images.
 */
function slipwayVersion(): string {
  if (version === undefined) {
    const read = (file: string, field: string): string | undefined => {
      try {
        const value = (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)[field];
        return typeof value === 'string' ? value : undefined;
      } catch {
        return undefined;
      }
    };
    const release = read(join(BUILTIN_BUILDPACKS, '..', 'package.json'), 'version') ?? 'unversioned';
    const bundle = read(join(dirname(fileURLToPath(import.meta.url)), 'manifest.json'), 'hash');
    version = bundle ? `${release} bundle ${bundle}` : release;
  }
  return version;
}

/** JSON with object keys sorted, so the same values always give the same key. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
