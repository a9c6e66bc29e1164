/*
 * Local images live under an image root (the workers' `imageRoot`, the API's BUNDLEFARM_IMAGE_ROOT) that
 * a job's path must never leave, whatever symlinks it goes through — and the answer must not tell a
 * caller anything about the filesystem outside the root.
 *
 * `resolveBeneath` walks the path one component at a time with lstat, following symlinks itself: a
 * symlink whose target leaves the root is never followed, so nothing outside the root is ever looked
 * at. A path that is missing and a path that leads out of the root through a symlink get the very same
 * error (`imageNotFound`: BF_FILE_UNREADABLE, "cannot read PATH: ENOENT (no such file or directory)"),
 * so the API is no existence oracle. Paths that leave the root by their text alone (absolute, `..`) are
 * BF_UNSAFE_PATH: that is visible in the request itself.
 *
 * `openBeneath` opens what `resolveBeneath` found: lstat first (a FIFO, socket or device is refused
 * before it is opened at all), then open with O_RDONLY | O_NOFOLLOW | O_NONBLOCK (a path swapped for a
 * FIFO meanwhile opens at once instead of blocking a thread for good), fstat of that descriptor, and
 * the path resolved again: the file opened must be the very file (device and inode) found inside the root.
 * Where /proc is mounted, the kernel's own name of the descriptor (/proc/self/fd/N) must be that path
 * too: `path` in the result is then what was opened, not what a name led to at some other moment — so
 * a caller that checks it against a scope checks the very file it reads (security re-review R2).
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { checkRegularFile } from '@bundlefarm/format';
import { FileUnreadableError, UnsafePathError } from '@bundlefarm/errors';

/** How the image root is named in messages (job results are seen by API users; the server's paths are not theirs). */
export const ROOT_LABEL = 'the image root';

/** Symlinks followed at most while resolving one path (Linux's own limit). */
const MAX_SYMLINKS = 40;

/** Flags of the open of a local image under the root. */
export const ROOTED_OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The one error for "there is no such file inside the root", whatever the reason (missing, or a symlink out). */
export function imageNotFound(requested: string): FileUnreadableError {
  return new FileUnreadableError(requested, Object.assign(new Error('no such file or directory'), { code: 'ENOENT' }));
}

/** A job's root tree that is not a directory (a file, a FIFO …: it is not opened). */
export function notATree(requested: string): FileUnreadableError {
  return new FileUnreadableError(requested, new Error('not a directory (a root tree is a directory)'));
}

/** True when `path` lies strictly below `root` (both absolute). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * The real path of `requested` (relative to `root`, itself a real path), every symlink on the way
 * followed inside the root only. Rejects with UnsafePathError when the text of the path leaves the root,
 * with `imageNotFound` when it does not exist or a symlink leads out, with FileUnreadableError for any
 * other failure of a lookup inside the root (e.g. EACCES, EIO).
 */
export async function resolveBeneath(root: string, requested: string): Promise<string> {
  if (isAbsolute(requested) || !isInside(root, resolve(root, requested))) throw new UnsafePathError(requested, ROOT_LABEL);
  // components still to walk, next one last; components walked so far (below the root, no symlinks)
  const pending = requested.split('/').reverse();
  const walked: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      // only a symlink's target can get here (the requested text stays inside, checked above)
      if (walked.length === 0) throw imageNotFound(requested);
      walked.pop();
      continue;
    }
    const path = join(root, ...walked, name);
    const st = await lookup(path, requested);
    if (!st.isSymbolicLink()) {
      walked.push(name);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw imageNotFound(requested);
    let target: string;
    try {
      target = await readlink(path);
    } catch (err) {
      throw lookupError(err, requested);
    }
    if (isAbsolute(target)) {
      // walked from the root again, by its text: a target outside the root is never followed, not even
      // to look (`..` in the rest is walked like any other component, so it cannot climb out either)
      const below = root.endsWith('/') ? root : `${root}/`;
      if (target !== root && !target.startsWith(below)) throw imageNotFound(requested);
      walked.length = 0;
      pending.push(...target.slice(below.length).split('/').reverse());
    } else {
      pending.push(...target.split('/').reverse());
    }
  }
  if (walked.length === 0) throw new UnsafePathError(requested, ROOT_LABEL);
  return join(root, ...walked);
}

export interface RootedFile {
  handle: FileHandle;
  /** fstat of `handle`: a regular file. */
  stat: Stats;
  /** Real path (the server's layout: never put it in a message). */
  path: string;
}

/**
 * Opens the regular file `requested` names inside `root` for reading (see the file header). The caller
 * closes the handle. Errors name `requested`, never the server's path.
 */
export async function openBeneath(root: string, requested: string): Promise<RootedFile> {
  const path = await resolveBeneath(root, requested);
  // a FIFO, socket or device is refused before it is opened (opening a device can do things)
  checkRegularFile(await lookup(path, requested), requested);
  let handle: FileHandle;
  try {
    handle = await open(path, ROOTED_OPEN_FLAGS);
  } catch (err) {
    // ELOOP: the file became a symlink since; not followed, and no more said than for a missing file
    if ((err as { code?: string }).code === 'ELOOP') throw imageNotFound(requested);
    throw lookupError(err, requested);
  }
  try {
    let st: Stats;
    try {
      st = await handle.stat();
    } catch (err) {
      throw new FileUnreadableError(requested, err);
    }
    checkRegularFile(st, requested);
    // the file opened must still be the one found inside the root (a directory on the way may have
    // been swapped for a symlink between the walk and the open)
    const again = await resolveBeneath(root, requested);
    const now = await lookup(again, requested);
    const opened = await descriptorPath(handle);
    if (again !== path || now.dev !== st.dev || now.ino !== st.ino || (opened !== undefined && opened !== path)) {
      throw new UnsafePathError(requested, ROOT_LABEL, { details: { reason: 'the path changed while it was opened' } });
    }
    return { handle, stat: st, path };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** The kernel's name of an open descriptor (/proc/self/fd/N); undefined where /proc is not mounted. */
async function descriptorPath(handle: FileHandle): Promise<string | undefined> {
  try {
    return await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    return undefined;
  }
}

/** `path` (a real path strictly inside `root`) relative to the root, with `/` separators: what image scopes match. */
export function pathInRoot(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}

async function lookup(path: string, requested: string): Promise<Stats> {
  try {
    return await lstat(path);
  } catch (err) {
    throw lookupError(err, requested);
  }
}

/** A failed lookup: missing (or not a directory on the way) is `imageNotFound`; anything else says what. */
function lookupError(err: unknown, requested: string): FileUnreadableError {
  const code = (err as { code?: string } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG') return imageNotFound(requested);
  return new FileUnreadableError(requested, err);
}
