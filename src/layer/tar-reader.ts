import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import tarStream from 'tar-stream';
import { SlipwayError, isErrno } from '../errors.js';
import type { EntryType, TarEntry } from './entry.js';
import { normalizeTarPath } from './path-safety.js';

/** One member of a tar archive: its metadata and a stream of its content. */
export interface TarMember {
  entry: TarEntry;
  /** The member's bytes (empty for anything but regular files). Read it, or leave it: the reader skips what is left. */
  content: Readable;
}

/**
 * Reads an uncompressed tar stream (ustar, PAX, GNU long names) member by member.
 * Paths come normalised (no "./", no trailing "/"; the archive root is ""), but a
 * leading "/" or ".." is kept for the extractor to refuse. PAX `uid`, `gid`, `mtime`
 * and `SCHILY.xattr.*` records are applied (xattr values as raw bytes).
 *
 * Only one member is live at a time: asking for the next one drains whatever the
 * consumer left unread of the current `content`.
 *
 * @example
 * for await (const { entry, content } of readTar(createReadStream('layer.tar'))) {
 *   if (entry.type === 'file') await pipeline(content, createWriteStream(out(entry.path)));
 * }
 */
export async function* readTar(source: Readable | AsyncIterable<Uint8Array>): AsyncGenerator<TarMember> {
  const input = source instanceof Readable ? source : Readable.from(source, { objectMode: false });
  const extract = tarStream.extract();
  const paxOf = captureRawPax(extract);
  const failure = watchFailure(extract);
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  try {
    for await (const member of extract) {
      const entry = toEntry(member.header, paxOf.get(member.header));
      let content: Readable | undefined;
      // Made on first use: most entries (directories, links, skipped files) never need a stream.
      yield {
        entry,
        get content() {
          return (content ??= Readable.from(bytesOf(member, failure), { objectMode: false }));
        },
      };
      await drain(member, content);
    }
  } catch (err) {
    throw asArchiveError(await failure.cause(err));
  } finally {
    extract.destroy();
    input.unpipe(extract);
    input.destroy();
  }
}

type Member = AsyncIterable<unknown>;

/** A member's bytes; a failing archive is reported as such to whoever reads them. */
async function* bytesOf(member: Member, failure: Failure): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of member) yield chunk as Buffer;
  } catch (err) {
    throw asArchiveError(await failure.cause(err));
  }
}

/** Reads what the consumer left of a member, so the archive can move on to the next. */
async function drain(member: Member, content: Readable | undefined): Promise<void> {
  if (content === undefined) {
    for await (const _chunk of member); // discard
  } else if (!content.readableEnded) {
    content.resume();
    await finished(content);
  }
}

/**
 * When the archive fails (truncated, corrupt), the member being read may report only
 * streamx's generic STREAM_DESTROYED, before the extractor's own 'error' event says
 * why. `cause` waits for the extractor to close and returns the real error.
 */
interface Failure {
  cause(err: unknown): Promise<unknown>;
}

function watchFailure(extract: tarStream.Extract): Failure {
  let error: unknown;
  let closed = false;
  extract.on('error', (err: unknown) => {
    error ??= err;
  });
  const done = new Promise<void>((resolve) => extract.on('close', () => resolve()));
  void done.then(() => (closed = true));
  return {
    async cause(err) {
      if (isErrno(err, 'STREAM_DESTROYED') && !closed) await done;
      return error ?? err;
    },
  };
}

function asArchiveError(err: unknown): unknown {
  if (err instanceof SlipwayError || !(err instanceof Error)) return err;
  // tar-stream and zstd report a corrupt stream with a plain Error, zlib with a Z_* code;
  // system errors (EIO, ENOSPC, ...) stay what they are.
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && !code.startsWith('Z_')) return err;
  return new SlipwayError('INVALID_ARCHIVE', `corrupt or truncated layer: ${err.message}`, { cause: err });
}

const TYPES: Record<string, EntryType> = {
  file: 'file',
  'contiguous-file': 'file',
  link: 'hardlink',
  symlink: 'symlink',
  directory: 'directory',
  'character-device': 'char-device',
  'block-device': 'block-device',
  fifo: 'fifo',
};

function toEntry(header: tarStream.Header, pax: Map<string, Buffer> | undefined): TarEntry {
  const path = normalizeTarPath(header.name);
  // tar-stream gives null (not in its types) for type flags it does not know, such as GNU sparse files.
  const rawType = header.type as string | null;
  const type = rawType === null ? undefined : TYPES[rawType];
  if (type === undefined) {
    throw new SlipwayError(
      'UNSUPPORTED',
      `tar entry "${path}" has a type Slipway does not handle (${rawType ?? 'unknown'})`,
      {
        detail: { entry: path, type: rawType },
      },
    );
  }
  const entry: TarEntry = {
    path,
    type,
    mode: (header.mode ?? 0) & 0o7777,
    uid: paxNumber(pax, 'uid') ?? header.uid ?? 0,
    gid: paxNumber(pax, 'gid') ?? header.gid ?? 0,
    mtime: paxNumber(pax, 'mtime') ?? (header.mtime ? header.mtime.getTime() / 1000 : 0),
    size: type === 'file' ? (header.size ?? 0) : 0,
  };
  if (type === 'symlink') entry.linkname = header.linkname ?? '';
  // A hardlink names another member, so its target is normalised like a member path.
  if (type === 'hardlink') entry.linkname = normalizeTarPath(header.linkname ?? '');
  if (type === 'char-device' || type === 'block-device') {
    entry.devmajor = header.devmajor ?? 0;
    entry.devminor = header.devminor ?? 0;
  }
  const xattrs = paxXattrs(pax);
  if (xattrs) entry.xattrs = xattrs;
  return entry;
}

function paxNumber(pax: Map<string, Buffer> | undefined, key: string): number | undefined {
  const raw = pax?.get(key);
  if (raw === undefined) return undefined;
  const value = Number(raw.toString('utf8'));
  return Number.isFinite(value) ? value : undefined;
}

const XATTR_PREFIX = 'SCHILY.xattr.';

function paxXattrs(pax: Map<string, Buffer> | undefined): Record<string, Buffer> | undefined {
  let xattrs: Record<string, Buffer> | undefined;
  for (const [key, value] of pax ?? []) {
    if (!key.startsWith(XATTR_PREFIX)) continue;
    xattrs ??= {};
    xattrs[key.slice(XATTR_PREFIX.length)] = value;
  }
  return xattrs;
}

/**
 * Parses PAX extended header records ("LEN key=value\n") keeping values as bytes.
 * tar-stream decodes them as UTF-8, which corrupts binary xattrs such as
 * security.capability, so we read the raw records ourselves.
 */
export function parsePaxRecords(buf: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < buf.length) {
    const space = buf.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number(buf.toString('latin1', at, space));
    if (!Number.isInteger(length) || length <= space - at || at + length > buf.length) break;
    const record = buf.subarray(space + 1, at + length - 1); // without the trailing "\n"
    const equals = record.indexOf(0x3d);
    if (equals > 0) records.set(record.toString('utf8', 0, equals), Buffer.from(record.subarray(equals + 1)));
    at += length;
  }
  return records;
}

/** tar-stream 3.2.2 internals we hook; checked at run time so an upgrade fails loudly, not silently. */
interface ExtractInternals {
  _header: { type: string | null } | null;
  _decodeLongHeader(buf: Buffer): void;
  _applyLongHeaders(): void;
}

/**
 * tar-stream exposes PAX records only UTF-8-decoded (lossy for binary values), so we
 * wrap two of its per-instance methods: one sees each raw PAX header block, the other
 * runs just before the member that block describes is emitted. Returns the raw
 * records (global ones merged under local ones) by header object.
 */
function captureRawPax(extract: tarStream.Extract): WeakMap<object, Map<string, Buffer>> {
  const internals = extract as unknown as ExtractInternals;
  if (typeof internals._decodeLongHeader !== 'function' || typeof internals._applyLongHeaders !== 'function') {
    throw new SlipwayError(
      'UNSUPPORTED',
      'this tar-stream version has no hook for raw PAX records; pin tar-stream 3.2.2',
    );
  }
  const byHeader = new WeakMap<object, Map<string, Buffer>>();
  const decode = internals._decodeLongHeader.bind(internals);
  const apply = internals._applyLongHeaders.bind(internals);
  let global = new Map<string, Buffer>();
  let local: Map<string, Buffer> | undefined;
  internals._decodeLongHeader = (buf) => {
    const type = internals._header?.type;
    if (type === 'pax-header') local = parsePaxRecords(buf);
    if (type === 'pax-global-header') global = parsePaxRecords(buf);
    decode(buf);
  };
  internals._applyLongHeaders = () => {
    apply();
    const records = local === undefined ? global : global.size === 0 ? local : new Map([...global, ...local]);
    if (internals._header && records.size > 0) byHeader.set(internals._header, records);
    local = undefined;
  };
  return byHeader;
}
