import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { constants, crc32, inflateRawSync } from 'node:zlib';
import { loadNative, type NativeBinding } from '@bundlefarm/native';
import { pseudoRandom, textLike, writeSparseImage } from '../../../test/helpers/images.js';
import { tempDir } from '../../../test/helpers/temp-dir.js';

// The addon is built by `npm run build` whenever libdeflate-dev is installed (CI installs it); a
// missing addon is a failure here, not a skip, unless the zlib fallback is forced on purpose.
const loaded = loadNative();
const forcedFallback = process.env.BUNDLEFARM_DEFLATE === 'zlib';

function native(): NativeBinding {
  if (!loaded.binding) assert.fail(`native addon not available: ${(loaded as { reason: string }).reason}`);
  return loaded.binding;
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const realData = (() => {
  const dir = '/usr/bin';
  const parts: Buffer[] = [];
  let n = 0;
  for (const f of readdirSync(dir).sort()) {
    try {
      const b = readFileSync(join(dir, f));
      parts.push(b);
      n += b.length;
    } catch {
      // unreadable entries (directories, broken links) do not matter
    }
    if (n > 6 * 1024 * 1024) break;
  }
  return Buffer.concat(parts);
})();

/** Inflates a stream that must NOT be finished: a final block would make zlib stop. */
function inflateOpen(piece: Buffer): Buffer {
  return inflateRawSync(piece, { finishFlush: constants.Z_SYNC_FLUSH });
}

describe('native deflatePiece', { skip: forcedFallback && 'BUNDLEFARM_DEFLATE=zlib' }, () => {
  it('pieces inflate back to their input, and concatenate into one stream', () => {
    const b = native();
    const inputs = [
      Buffer.alloc(0),
      Buffer.from('a'),
      Buffer.from('hello world, hello world, hello world'),
      Buffer.alloc(1024 * 1024),
      pseudoRandom(300_001, 1),
      realData.subarray(0, 65_535),
      realData.subarray(0, 65_536),
      realData.subarray(0, 300_000),
      realData.subarray(0, 1024 * 1024),
      realData.subarray(0, 4 * 1024 * 1024 + 3),
      textLike(2 * 1024 * 1024),
    ];
    for (let level = 0; level <= 12; level++) {
      const pieces: Buffer[] = [];
      for (const input of inputs) {
        const piece = b.deflatePiece(input, level, false);
        assert.deepEqual([...piece.subarray(-4)], [0, 0, 0xff, 0xff], `sync marker (level ${level}, ${input.length} bytes)`);
        assert.ok(inflateOpen(piece).equals(input), `piece round trip (level ${level}, ${input.length} bytes)`);
        pieces.push(piece);
      }
      const last = b.deflatePiece(Buffer.from('the end'), level, true);
      const all = inflateRawSync(Buffer.concat([...pieces, last]));
      assert.ok(all.equals(Buffer.concat([...inputs, Buffer.from('the end')])), `concatenation, level ${level}`);
    }
  });

  it('a non-final piece holds no final block: zlib does not stop inside it', () => {
    const b = native();
    const piece = b.deflatePiece(realData.subarray(0, 500_000), 6, false);
    // If the piece contained a final block, inflating piece+piece with Z_FINISH would stop after the
    // first copy and return only 500 000 bytes.
    const twice = inflateRawSync(Buffer.concat([piece, piece, b.deflatePiece(Buffer.alloc(0), 6, true)]));
    assert.equal(twice.length, 1_000_000);
  });

  it('random mixtures of repetitive and random data round trip (seeded, 300 cases)', () => {
    const b = native();
    const r = rng(20261125);
    const expected: Buffer[] = [];
    const pieces: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const segments: Buffer[] = [];
      const target = Math.floor(r() ** 3 * 700_000);
      let n = 0;
      while (n < target) {
        const len = 1 + Math.floor(r() * 50_000);
        const kind = Math.floor(r() * 4);
        const seg =
          kind === 0
            ? pseudoRandom(len, i * 7 + n)
            : kind === 1
              ? Buffer.alloc(len, Math.floor(r() * 256))
              : kind === 2
                ? textLike(len, i)
                : realData.subarray(Math.floor(r() * (realData.length - len)), 0).length === 0
                  ? realData.subarray(0, len)
                  : realData.subarray(0, len);
        segments.push(seg);
        n += seg.length;
      }
      const input = Buffer.concat(segments);
      const level = 1 + Math.floor(r() * 12);
      const piece = b.deflatePiece(input, level, false);
      assert.ok(inflateOpen(piece).equals(input), `case ${i} (level ${level}, ${input.length} bytes)`);
      pieces.push(piece);
      expected.push(input);
    }
    pieces.push(b.deflatePiece(Buffer.alloc(0), 6, true));
    assert.ok(inflateRawSync(Buffer.concat(pieces)).equals(Buffer.concat(expected)));
  });

  it('pieces framed as one gzip member pass `gzip -t` and gunzip', async () => {
    const b = native();
    const data = [realData.subarray(0, 1_000_000), pseudoRandom(200_000, 9), textLike(777_777)];
    const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    const pieces = data.map((d, i) => b.deflatePiece(d, 6, i === data.length - 1));
    const all = Buffer.concat(data);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc32(all), 0);
    trailer.writeUInt32LE(all.length, 4);
    const gz = Buffer.concat([header, ...pieces, trailer]);
    const t = spawnSync('gzip', ['-t'], { input: gz });
    assert.equal(t.status, 0, t.stderr.toString());
    const u = spawnSync('gunzip', ['-c'], { input: gz, maxBuffer: 16 * 1024 * 1024 });
    assert.ok(u.stdout.equals(all));
  });

  it('validates its arguments', () => {
    const b = native();
    assert.throws(() => b.deflatePiece('text' as unknown as Uint8Array, 6, false), TypeError);
    assert.throws(() => b.deflatePiece(Buffer.alloc(1), 13, false), RangeError);
    assert.throws(() => b.deflatePiece(Buffer.alloc(1), -1, true), RangeError);
    assert.throws(() => (b.deflatePiece as unknown as (a: unknown) => unknown)(Buffer.alloc(1)), TypeError);
    assert.match(b.version(), /^\d+\.\d+/);
  });

  it('computes the CRC-32 zlib computes', () => {
    const b = native();
    for (const d of [Buffer.alloc(0), realData.subarray(0, 1_234_567), pseudoRandom(99_999, 3)]) {
      assert.equal(b.crc32(d), crc32(d));
      assert.equal(b.crc32(d.subarray(500), b.crc32(d.subarray(0, 500))), crc32(d));
    }
  });
});

describe('native dataRuns (SEEK_DATA / SEEK_HOLE)', { skip: forcedFallback && 'BUNDLEFARM_DEFLATE=zlib' }, () => {
  it("lists a sparse file's data runs", async () => {
    const b = native();
    const dir = await tempDir();
    const path = join(dir, 'sparse.img');
    const size = 256 * 1024 * 1024;
    await writeSparseImage(path, size, [
      { offset: 0, data: randomBytes(4096) },
      { offset: 64 * 1024 * 1024, data: randomBytes(100_000) },
      { offset: size - 8192, data: randomBytes(8192) },
    ]);
    const fd = openSync(path, 'r');
    try {
      const runs = b.dataRuns(fd, size);
      assert.equal(runs.length % 2, 0);
      const pairs: Array<[number, number]> = [];
      for (let i = 0; i < runs.length; i += 2) pairs.push([runs[i]!, runs[i + 1]!]);
      // every written byte is inside a run; the runs are ordered and cover far less than the file
      for (const [off, len] of [[0, 4096], [64 * 1024 * 1024, 100_000], [size - 8192, 8192]]) {
        assert.ok(pairs.some(([o, l]) => o <= off! && off! + len! <= o + l), `run covers ${off}`);
      }
      for (let i = 1; i < pairs.length; i++) assert.ok(pairs[i]![0] >= pairs[i - 1]![0] + pairs[i - 1]![1]);
      assert.ok(pairs.reduce((s, [, l]) => s + l, 0) < 4 * 1024 * 1024);
      assert.throws(() => b.dataRuns(9999, size), (e: unknown) => typeof (e as { errno?: unknown }).errno === 'number');
    } finally {
      closeSync(fd);
    }
  });
});

describe('fallback', () => {
  it('BUNDLEFARM_DEFLATE=zlib reports no binding, with a reason', () => {
    const r = spawnSync(process.execPath, ['-e', "import('@bundlefarm/native').then(m => { const l = m.loadNative(); console.log(JSON.stringify({ b: l.binding === null, reason: l.reason })) })"], {
      env: { ...process.env, BUNDLEFARM_DEFLATE: 'zlib' },
      encoding: 'utf8',
    });
    const out = JSON.parse(r.stdout) as { b: boolean; reason: string };
    assert.equal(out.b, true);
    assert.match(out.reason, /BUNDLEFARM_DEFLATE=zlib/);
  });
});
