/**
 * What a file must be to be read as an image or a part: a regular file. A directory, FIFO, socket,
 * device or symlink is refused with FileUnreadableError naming what it is instead (a FIFO would block
 * a reader, a device never ends). Shared by the engine (which reads them) and the service's producer
 * (which checks an image at enqueue time without loading the engine).
 */
import type { Stats } from 'node:fs';
import { FileUnreadableError } from '@bundlefarm/errors';

export function checkRegularFile(st: Stats, description: string): void {
  if (st.isDirectory()) throw new FileUnreadableError(description, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
  if (!st.isFile()) throw new FileUnreadableError(description, new Error(`not a regular file (${fileKind(st)})`));
}

function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'not a file';
}
