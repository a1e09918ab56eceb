/**
 * Our own POSIX tar header encoder (ustar, plus a PAX extended header only when an
 * entry needs one). We write headers ourselves because tar-stream cannot carry binary
 * PAX values (security.capability is binary) and clamps uid/gid above 262143, and
 * because layer digests depend on every header byte: this module is the single place
 * that decides them.
 *
 * Determinism rules: uname/gname empty, mtime an integer, PAX records in a fixed order
 * (xattrs sorted by name), the PAX header named "PaxHeaders/<basename>" (GNU tar puts
 * its process id there), directories written with a trailing slash.
 */
import { SlipwayError } from '../errors.js';
import type { EntryType, TarEntry } from './entry.js';

export const BLOCK_SIZE = 512;

const TYPEFLAG: Record<EntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  'char-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};
const PAX_TYPEFLAG = 'x';

// ustar field offsets and widths (POSIX.1-2008, pax "ustar Interchange Format").
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 8], // "ustar\0" then version "00"
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

/** Largest value an octal field of `width` bytes holds (width-1 digits and a NUL). */
function octalMax(width: number): number {
  return OCTAL_MAX[width] ?? 8 ** (width - 1) - 1;
}
const OCTAL_MAX: Record<number, number> = { 7: 0o777777, 8: 0o7777777, 12: 0o77777777777 };

/** Bytes of zero padding that follow `size` bytes of content to reach a block boundary. */
export function paddingSize(size: number): number {
  return (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
}

/** The end-of-archive marker: two zero blocks. A fresh buffer each call. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(2 * BLOCK_SIZE);
}

/**
 * Encodes the header of `entry`: one 512-byte ustar block, preceded by a PAX 'x'
 * header and its records when a field does not fit ustar (long or non-ASCII path or
 * link name, numbers beyond their octal field) or the entry carries xattrs.
 * Returns 512*k bytes; the entry's content (for files) and its padding follow it.
 *
 * @example
 *   const header = encodeHeader({ path: 'app/run.sh', type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: 315532801, size: 12 });
 */
export function encodeHeader(entry: TarEntry): Buffer {
  validate(entry);
  const path = entry.type === 'directory' ? `${entry.path}/` : entry.path;
  const linkname = entry.linkname ?? '';
  const size = entry.type === 'file' ? entry.size : 0;
  const mtime = Math.floor(entry.mtime);
  const devmajor = entry.devmajor ?? 0;
  const devminor = entry.devminor ?? 0;

  const records: PaxRecord[] = [];
  const split = splitUstarPath(path);
  if (split === undefined || !isAscii(path)) records.push(['path', path]);
  if (Buffer.byteLength(linkname) > F.linkname[1] || !isAscii(linkname)) records.push(['linkpath', linkname]);
  if (size > octalMax(F.size[1])) records.push(['size', String(size)]);
  if (entry.uid > octalMax(F.uid[1])) records.push(['uid', String(entry.uid)]);
  if (entry.gid > octalMax(F.gid[1])) records.push(['gid', String(entry.gid)]);
  if (mtime < 0 || mtime > octalMax(F.mtime[1])) records.push(['mtime', String(mtime)]);
  // POSIX has no keyword for device numbers; star and libarchive use these.
  if (devmajor > octalMax(F.devmajor[1])) records.push(['SCHILY.devmajor', String(devmajor)]);
  if (devminor > octalMax(F.devminor[1])) records.push(['SCHILY.devminor', String(devminor)]);
  for (const name of sortedKeys(entry.xattrs)) records.push([`SCHILY.xattr.${name}`, entry.xattrs![name]!]);

  const header = zeroBlocks(1);
  const [name, prefix] = split ?? [truncateUtf8(path, F.name[1]), ''];
  writeString(header, F.name, name);
  writeString(header, F.prefix, prefix);
  writeString(header, F.linkname, truncateUtf8(linkname, F.linkname[1]));
  writeNumber(header, F.mode, entry.mode);
  writeNumber(header, F.uid, entry.uid);
  writeNumber(header, F.gid, entry.gid);
  writeNumber(header, F.size, size);
  writeNumber(header, F.mtime, mtime);
  writeNumber(header, F.devmajor, devmajor);
  writeNumber(header, F.devminor, devminor);
  header[F.typeflag[0]] = TYPEFLAG[entry.type].charCodeAt(0);
  finishBlock(header);
  if (records.length === 0) return header;

  const pax = encodePaxHeader(path, mtime, records);
  return Buffer.concat([pax, header], pax.length + BLOCK_SIZE);
}

type PaxRecord = [key: string, value: string | Buffer];

/** The 'x' header block, its records, and their padding. */
function encodePaxHeader(path: string, mtime: number, records: PaxRecord[]): Buffer {
  const body = Buffer.concat(records.map(([key, value]) => paxRecord(key, value)));
  const out = zeroBlocks(1 + (body.length + paddingSize(body.length)) / BLOCK_SIZE);
  writeString(out, F.name, truncateUtf8(`PaxHeaders/${basename(path)}`, F.name[1]));
  writeNumber(out, F.mode, 0o644);
  writeNumber(out, F.uid, 0);
  writeNumber(out, F.gid, 0);
  writeNumber(out, F.size, body.length);
  writeNumber(out, F.mtime, Math.min(Math.max(mtime, 0), octalMax(F.mtime[1])));
  writeNumber(out, F.devmajor, 0);
  writeNumber(out, F.devminor, 0);
  out[F.typeflag[0]] = PAX_TYPEFLAG.charCodeAt(0);
  finishBlock(out);
  body.copy(out, BLOCK_SIZE);
  return out;
}

/**
 * One PAX record, "LEN KEY=VALUE\n", where LEN counts every byte of the record,
 * its own digits included. Values are raw bytes (binary xattrs stay binary).
 */
export function paxRecord(key: string, value: string | Buffer): Buffer {
  const valueBytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const rest = Buffer.byteLength(key) + valueBytes.length + 3; // ' ', '=', '\n'
  let length = rest + String(rest).length;
  if (String(length).length !== String(rest).length) length += 1; // the length grew a digit
  const head = Buffer.from(`${length} ${key}=`, 'utf8');
  return Buffer.concat([head, valueBytes, Buffer.from('\n')], length);
}

/**
 * Splits a path into ustar [name, prefix] (name <= 100 bytes, prefix <= 155, split at
 * a slash), or returns undefined when it cannot fit. Short paths need no split.
 */
function splitUstarPath(path: string): [string, string] | undefined {
  const bytes = Buffer.byteLength(path);
  if (bytes <= F.name[1]) return [path, ''];
  if (bytes > F.name[1] + F.prefix[1] + 1 || bytes !== path.length) return undefined; // non-ASCII goes to PAX anyway
  // The longest prefix that fits leaves the shortest name; a trailing slash (directory) stays in the name.
  for (let i = Math.min(F.prefix[1], path.length - 2); i > 0; i--) {
    if (path.charCodeAt(i) === 0x2f && path.length - i - 1 <= F.name[1]) return [path.slice(i + 1), path.slice(0, i)];
  }
  return undefined;
}

/** Zeroed blocks from Node's buffer pool (Buffer.alloc makes a new ArrayBuffer each time: slower per header). */
function zeroBlocks(count: number): Buffer {
  return Buffer.allocUnsafe(count * BLOCK_SIZE).fill(0);
}

function writeString(block: Buffer, [offset, width]: readonly [number, number], value: string): void {
  if (value.length > 0) block.write(value, offset, width, isAscii(value) ? 'latin1' : 'utf8');
}

/**
 * Octal with leading zeros and a NUL, written digit by digit (this runs for every
 * field of every entry). Values too large (or negative) are written in the base-256
 * form GNU tar, Go and libarchive read, so that even a reader ignoring the PAX record
 * that carries the exact value gets it right.
 */
function writeNumber(block: Buffer, [offset, width]: readonly [number, number], value: number): void {
  if (value >= 0 && value <= octalMax(width)) {
    block[offset + width - 1] = 0;
    let rest = value;
    for (let i = offset + width - 2; i >= offset; i--) {
      block[i] = 0x30 + (rest % 8);
      rest = Math.floor(rest / 8);
    }
    return;
  }
  let n = BigInt(value);
  if (n < 0n) n += 1n << BigInt(8 * width); // two's complement in `width` bytes
  for (let i = offset + width - 1; i > offset; i--) {
    block[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  block[offset] = value < 0 ? 0xff : 0x80;
}

const MAGIC = Buffer.from('ustar\x0000', 'latin1');
const SPACE = 0x20;

/** Writes magic and version, then the checksum: the byte sum with the checksum field as spaces. */
function finishBlock(block: Buffer): void {
  MAGIC.copy(block, F.magic[0]);
  block.fill(SPACE, F.chksum[0], F.chksum[0] + F.chksum[1]);
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += block[i]!;
  writeNumber(block, [F.chksum[0], 7], sum); // six digits and a NUL, then the space that is already there
}

/** Throws INVALID_ARGUMENT, naming the entry, for what a tar header cannot say. */
function validate(entry: TarEntry): void {
  if (entry.path.length === 0 || entry.path.includes('\0')) invalid(entry, 'its path is empty or contains NUL');
  if (!Object.hasOwn(TYPEFLAG, entry.type)) invalid(entry, `unknown entry type "${String(entry.type)}"`);
  if ((entry.type === 'symlink' || entry.type === 'hardlink') && !entry.linkname)
    invalid(entry, `a ${entry.type} needs a linkname`);
  if (entry.linkname?.includes('\0')) invalid(entry, 'its linkname contains NUL');
  if (!isUint(entry.mode) || entry.mode > 0o7777) invalid(entry, `mode ${entry.mode} is not within 0..0o7777`);
  if (!isUint(entry.uid) || !isUint(entry.gid))
    invalid(entry, `uid ${entry.uid} / gid ${entry.gid} must be non-negative integers`);
  if (!Number.isFinite(entry.mtime)) invalid(entry, `mtime ${entry.mtime} is not a number`);
  if (entry.type === 'file' && !isUint(entry.size)) invalid(entry, `size ${entry.size} is not a non-negative integer`);
  if (!isUint(entry.devmajor ?? 0) || !isUint(entry.devminor ?? 0))
    invalid(entry, 'device numbers must be non-negative integers');
  if (entry.xattrs) {
    for (const name of Object.keys(entry.xattrs)) {
      if (name.length === 0 || name.includes('=') || name.includes('\0'))
        invalid(entry, `xattr name "${name}" cannot be written to PAX`);
    }
  }
}

function invalid(entry: TarEntry, what: string): never {
  throw new SlipwayError('INVALID_ARGUMENT', `cannot write tar entry "${entry.path}": ${what}`, {
    detail: { path: entry.path },
  });
}

function isUint(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function isAscii(s: string): boolean {
  return /^[\x01-\x7f]*$/.test(s);
}

function basename(path: string): string {
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** The longest prefix of `s` whose UTF-8 encoding fits in `max` bytes, cut at a character boundary. */
function truncateUtf8(s: string, max: number): string {
  if (s.length <= max && isAscii(s)) return s;
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= max) return s;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // do not start inside a multi-byte sequence
  return bytes.subarray(0, end).toString('utf8');
}

/** xattr names in byte order, so that records are deterministic whatever the object's key order. */
function sortedKeys(xattrs: Record<string, Buffer> | undefined): string[] {
  if (!xattrs) return [];
  return Object.keys(xattrs).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
