/**
 * One entry of a layer tarball, independent of where it comes from (a directory
 * walk, an overlay upper directory, a tar being read) or goes to (the deterministic
 * tar writer, the extractor). Paths are relative, slash-separated, without a leading
 * "./" or "/", and directories carry no trailing slash.
 */
export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo';

export interface TarEntry {
  path: string;
  type: EntryType;
  /** Permission bits and setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (may carry a fraction when read from a PAX header). */
  mtime: number;
  /** Bytes of content; 0 for everything but regular files. */
  size: number;
  /** Symlink target, or for a hardlink the path of the entry it links to. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes to carry (SCHILY.xattr.* in PAX), e.g. security.capability. */
  xattrs?: Record<string, Buffer>;
  /** Where the content comes from when writing: an absolute file path on disk. */
  sourcePath?: string;
}

/** OCI whiteout names (image-spec layer.md#whiteouts). */
export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
