/**
 * Reads a file that ought to be small — a key, a certificate, a manifest — without trusting it to be:
 * at most `limit` bytes are read, whatever the path turns out to name. Reading a whole file instead
 * never ends on a device such as /dev/zero or /dev/urandom (growing until the process dies of memory,
 * seen at 11 GB), and costs gigabytes for a disk image given in the wrong place. Resolves with the bytes
 * and whether that was all of the file; any error of the file system is FileUnreadableError.
 *
 * (A FIFO nobody writes to still blocks in `open`, as it does for `cat`: that is what a FIFO is for,
 * and `-k <(command)` must keep working.)
 */
import { open, type FileHandle } from 'node:fs/promises';
import { FileUnreadableError } from '@bundlefarm/errors';

export interface BoundedFile {
  data: Buffer;
  /** False when the file holds more than the limit (`data` is its first `limit` bytes then). */
  complete: boolean;
}

const CHUNK = 64 * 1024;

export async function readBoundedFile(path: string, limit: number): Promise<BoundedFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new FileUnreadableError(path, err);
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    // one byte past the limit tells a file of exactly `limit` bytes from a longer one
    while (total <= limit) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, limit + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
    }
    const data = Buffer.concat(chunks, total);
    return total > limit ? { data: data.subarray(0, limit), complete: false } : { data, complete: true };
  } catch (err) {
    throw new FileUnreadableError(path, err);
  } finally {
    await handle.close().catch(() => {});
  }
}
