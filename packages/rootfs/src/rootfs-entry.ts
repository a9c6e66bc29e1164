/*
 * One entry of a root filesystem, as a source (a directory tree, a tarball) hands it to the image
 * builder. Paths and link targets are byte strings: every byte of the name is one char of a latin1 JS
 * string, so names that are not UTF-8 survive unchanged (`Buffer.from(path, 'latin1')` gives the bytes).
 */

export type RootfsEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** Seconds since the epoch (may be negative or past 2038) and nanoseconds. */
export interface Timestamp {
  sec: number;
  nsec: number;
}

/** The bytes of a regular file, as a local file debugfs can read; released once copied. */
export interface FileContent {
  /** A path debugfs opens (e.g. `/proc/PID/fd/N` of a file the source holds open, or a staged copy). */
  path: string;
  /** True when the local file's permission bits equal the entry's (debugfs copies them). */
  modeMatches: boolean;
  release(): Promise<void>;
}

export interface RootfsEntry {
  /** Path in the image without a leading slash ('' is the root directory). Byte string. */
  path: string;
  type: RootfsEntryType;
  /** Permission bits with setuid, setgid and sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  mtime: Timestamp;
  /** Extended attributes (incl. system.posix_acl_*, security.capability, security.selinux), raw values. */
  xattrs: Array<[string, Buffer]>;
  /** Symlink target, or for a hard link the path of the entry it links to. Byte string. */
  target?: string;
  major?: number;
  minor?: number;
  /** Size of a regular file in bytes. */
  size: number;
  /** Bytes the file occupies on the source's disk (holes excluded), when known. */
  allocated?: number;
  content?: FileContent;
}

/** Type bits of ext4's i_mode for each entry type. */
export const TYPE_BITS: Record<Exclude<RootfsEntryType, 'hardlink'>, number> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
  fifo: 0o010000,
};

/** The byte-string form of a text path given by a user (argv is UTF-8). */
export function bytePath(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}
