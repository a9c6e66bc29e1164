import { createCipheriv, randomBytes } from 'node:crypto';
import { open, truncate, writeFile } from 'node:fs/promises';

/** Fast deterministic pseudo-random bytes (AES-128-CTR keystream), incompressible like real random data. */
export function pseudoRandom(length: number, seed = 1): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32LE(seed >>> 0, 0);
  const c = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return c.update(Buffer.alloc(length));
}

/** Text-like, compressible content (a fake file listing). */
export function textLike(length: number, seed = 0): Buffer {
  const lines: string[] = [];
  let n = 0;
  let i = seed;
  while (n < length) {
    const s = `drwxr-xr-x root root ${(i * 7919) % 100000} /usr/lib/x86_64-linux-gnu/lib${i % 331}.so.${i % 7}\n`;
    lines.push(s);
    n += s.length;
    i++;
  }
  return Buffer.from(lines.join('')).subarray(0, length);
}

/** Writes `size` bytes of incompressible data in 8 MiB steps (so big files do not need big memory). */
export async function writeRandomFile(path: string, size: number, seed = 1): Promise<void> {
  const key = Buffer.alloc(16);
  key.writeUInt32LE(seed >>> 0, 0);
  const c = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const h = await open(path, 'w');
  try {
    const step = 8 * 1024 * 1024;
    const zeros = Buffer.alloc(step);
    for (let at = 0; at < size; at += step) {
      const n = Math.min(step, size - at);
      await h.write(c.update(zeros.subarray(0, n)), 0, n, at);
    }
  } finally {
    await h.close();
  }
}

/**
 * A sparse image: `size` bytes of holes with `islands` of data written at the given offsets. Uses no
 * disk for the holes, so multi-GiB images cost nothing.
 */
export async function writeSparseImage(path: string, size: number, islands: Array<{ offset: number; data: Buffer }>): Promise<void> {
  await writeFile(path, '');
  await truncate(path, size);
  const h = await open(path, 'r+');
  try {
    for (const { offset, data } of islands) await h.write(data, 0, data.length, offset);
  } finally {
    await h.close();
  }
}

export function randomIslands(size: number, count: number, islandSize: number): Array<{ offset: number; data: Buffer }> {
  const out: Array<{ offset: number; data: Buffer }> = [];
  for (let i = 0; i < count; i++) {
    const offset = Math.floor(((i + 0.5) / count) * (size - islandSize));
    out.push({ offset, data: i % 2 ? randomBytes(islandSize) : textLike(islandSize, i) });
  }
  return out;
}
