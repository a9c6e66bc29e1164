import assert from 'node:assert/strict';
import { createDecipheriv, createHash } from 'node:crypto';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inflateRawSync, gunzipSync } from 'node:zlib';
import { bundleImage, crc32Combine, DirectorySink, ThreadPool, type BundleResult } from '@bundlefarm/engine';
import { buildTarHeader, tarStreamLength } from '@bundlefarm/format';
import { crc32 } from 'node:zlib';
import { pseudoRandom, textLike } from '@bundlefarm/testkit/images.js';
import { run } from '@bundlefarm/testkit/run.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';

const pools = new Map<number, ThreadPool>();
function pool(threads: number): ThreadPool {
  let p = pools.get(threads);
  if (!p) pools.set(threads, (p = new ThreadPool({ threads })));
  return p;
}
after(() => Promise.all([...pools.values()].map((p) => p.close())));

/** Decrypts the parts of a bundle with its secret: the gzip member, checked independently of unbundle. */
async function gzipOf(dir: string, result: BundleResult): Promise<Buffer> {
  const d = createDecipheriv('aes-128-cbc', result.secret.key, result.secret.iv);
  const chunks: Buffer[] = [];
  for (const p of result.facts.parts) chunks.push(d.update(await readFile(join(dir, p.filename))));
  chunks.push(d.final());
  return Buffer.concat(chunks);
}

/** Asserts `gz` is exactly ONE gzip member with nothing after it, and returns its content. */
function singleMember(gz: Buffer): Buffer {
  assert.deepEqual([...gz.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3], 'gzip header as gzip -9 from a pipe');
  const { buffer, engine } = inflateRawSync(gz.subarray(10), { info: true }) as unknown as {
    buffer: Buffer;
    engine: { bytesWritten: number };
  };
  assert.equal(10 + engine.bytesWritten + 8, gz.length, 'one deflate stream, then the 8-byte trailer, then nothing');
  assert.equal(gz.readUInt32LE(gz.length - 8), crc32(buffer), 'CRC-32');
  assert.equal(gz.readUInt32LE(gz.length - 4), buffer.length % 2 ** 32, 'ISIZE');
  return buffer;
}

function expectedTar(name: string, data: Buffer, mtime: number, mode = 0o644): Buffer {
  const header = buildTarHeader({ name, size: data.length, mode, mtime });
  return Buffer.concat([header, data, Buffer.alloc(tarStreamLength(data.length) - 512 - data.length)]);
}

async function bundleBytes(data: Buffer, opts: { level: number; threads: number; blockSize?: number; backend?: 'zlib' | 'libdeflate' | 'auto' }) {
  const dir = await tempDir();
  const image = join(dir, 'img.raw');
  await writeFile(image, data);
  const mtime = 1_700_000_000;
  await utimes(image, mtime, mtime);
  const out = join(dir, 'out');
  const result = await bundleImage(
    {
      image,
      level: opts.level,
      threads: opts.threads,
      pool: pool(opts.threads),
      backend: opts.backend ?? 'auto',
      ...(opts.blockSize ? { blockSize: opts.blockSize } : {}),
    },
    new DirectorySink(out, { fsync: false }),
  );
  return { dir: out, result, tar: expectedTar('img.raw', data, mtime) };
}

const mixed = Buffer.concat([textLike(300_000), pseudoRandom(200_000, 3), Buffer.alloc(400_000), textLike(123_457, 9)]);

describe('parallel gzip output', () => {
  for (const backend of ['zlib', 'auto'] as const) {
    for (const level of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      it(`is one standard gzip member of the exact tar stream (backend ${backend}, level ${level})`, async () => {
        const { dir, result, tar } = await bundleBytes(mixed, { level, threads: 2, blockSize: 64 * 1024, backend });
        const gz = await gzipOf(dir, result);
        const content = singleMember(gz);
        assert.ok(content.equals(tar), 'content is the tar stream');
        assert.equal(result.facts.digest, createHash('sha1').update(tar).digest('hex'), 'digest is SHA-1 of the tar stream');
        assert.equal(result.stats.blocks.zero > 0, true, 'zero blocks took the fast path');
        assert.equal(result.stats.blocks.deflate > 0, true);
      });
    }
  }

  it('is accepted by gzip -t and gunzip, for 1, 2 and 4 threads', async () => {
    for (const threads of [1, 2, 4]) {
      const { dir, result, tar } = await bundleBytes(mixed, { level: 6, threads, blockSize: 64 * 1024 });
      const gz = await gzipOf(dir, result);
      const t = await run('gzip', ['-t'], { input: gz });
      assert.equal(t.code, 0, `gzip -t: ${t.stderr}`);
      const gunzipped = await import('node:child_process').then(({ execFileSync }) =>
        execFileSync('gunzip', ['-c'], { input: gz, maxBuffer: 64 * 1024 * 1024 }),
      );
      assert.ok(gunzipped.equals(tar), `threads ${threads}`);
    }
  });

  it('stores incompressible blocks and still gives one valid member', async () => {
    const random = pseudoRandom(3 * 1024 * 1024 + 777, 42);
    const { dir, result, tar } = await bundleBytes(random, { level: 9, threads: 2, blockSize: 256 * 1024 });
    assert.ok(result.stats.blocks.stored >= 11, `stored blocks: ${JSON.stringify(result.stats.blocks)}`);
    const gz = await gzipOf(dir, result);
    assert.ok(singleMember(gz).equals(tar));
    // stored blocks cost 5 bytes per 64 KiB: the output is barely larger than the input
    assert.ok(result.stats.gzipBytes < tar.length * 1.001 + 64, `${result.stats.gzipBytes} vs ${tar.length}`);
  });

  it('handles every block boundary edge: header, data end and trailer across blocks', async () => {
    const block = 64 * 1024;
    // tar stream = 512 header + data + pad + trailer to 10240: pick data sizes around block multiples
    const sizes = [1, 511, 512, 513, block - 512, block - 511, block - 513, block, 2 * block - 512, 5 * block - 512 - 1024, 5 * block - 512 - 1023, 5 * block];
    for (const size of sizes) {
      const data = Buffer.concat([textLike(Math.floor(size / 2)), pseudoRandom(size - Math.floor(size / 2), size)]);
      for (const backend of ['zlib', 'auto'] as const) {
        const { dir, result, tar } = await bundleBytes(data, { level: 6, threads: 2, blockSize: block, backend });
        const gz = await gzipOf(dir, result);
        assert.ok(singleMember(gz).equals(tar), `size ${size} backend ${backend}`);
        assert.equal(gunzipSync(gz).length, tar.length);
      }
    }
  });

  it('gives the same tar stream and digest at every level and thread count', async () => {
    const digests = new Set<string>();
    for (const threads of [1, 2, 3]) {
      for (const level of [1, 5, 9]) {
        const { result } = await bundleBytes(mixed, { level, threads, blockSize: 128 * 1024 });
        digests.add(result.facts.digest);
      }
    }
    assert.equal(digests.size, 1);
  });
});

describe('crc32Combine', () => {
  it('equals the CRC of the concatenation', () => {
    const a = textLike(100_000);
    const b = pseudoRandom(77_777, 5);
    assert.equal(crc32Combine(crc32(a), crc32(b), b.length), crc32(Buffer.concat([a, b])));
    assert.equal(crc32Combine(crc32(a), crc32(Buffer.alloc(0)), 0), crc32(a));
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    assert.equal(crc32Combine(crc32(a), crc32(big), big.length), crc32(Buffer.concat([a, big])));
  });
});
