import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { UnsafePathError } from '@bundlefarm/errors';
import { isPlainFileName } from '@bundlefarm/format';
import { checkRegularFile } from './image-source.js';
import type { PartSource } from './part-source.js';

/** Reads parts from a local directory, never outside it. */
export class DirectorySource implements PartSource {
  readonly location: string;
  private readonly root: string;

  constructor(directory: string) {
    this.root = resolve(directory);
    this.location = this.root;
  }

  resolveName(fileName: string): string {
    const path = resolve(this.root, fileName);
    if (!isPlainFileName(fileName) || !path.startsWith(this.root + sep)) throw new UnsafePathError(fileName, this.root);
    return path;
  }

  async readPart(fileName: string, maxBytes: number): Promise<Buffer> {
    const path = this.resolveName(fileName);
    // O_NOFOLLOW: a part planted as a symlink must not make us read outside the directory;
    // O_NONBLOCK: a FIFO named like a part opens at once (and is refused below) instead of hanging
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = await handle.stat();
      checkRegularFile(st, path);
      const { size } = st;
      if (size > maxBytes) {
        throw Object.assign(new Error(`${fileName} is ${size} bytes, more than a part can be (${maxBytes})`), { code: 'EFBIG' });
      }
      const buf = Buffer.allocUnsafe(size);
      let off = 0;
      while (off < size) {
        const { bytesRead } = await handle.read(buf, off, size - off, off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return off === size ? buf : buf.subarray(0, off);
    } finally {
      await handle.close();
    }
  }
}
