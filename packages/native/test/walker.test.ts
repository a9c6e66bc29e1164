// The block walker on streams it did not get from libdeflate (zlib's, every block type and
// strategy), on malformed input (must throw, never crash), and the addon in worker threads.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import { BINDING_PATH } from '@bundlefarm/native';
import { loadLibdeflate } from '@bundlefarm/native';
import { needsLibdeflate, needsNative } from '@bundlefarm/testkit/requirements.js';
import { MiB, core, lib, mixedReal, mixture, prng, randomBytes, text } from './support.js';

/** Where zlib says the stream ends: the number of input bytes its inflate consumed. */
function zlibStreamLength(raw: Buffer): number {
  const { engine } = zlib.inflateRawSync(raw, { info: true }) as unknown as { engine: zlib.InflateRaw };
  return engine.bytesWritten;
}

describe('walkBlocks', { skip: needsNative() }, () => {
  const inputs = [Buffer.alloc(0), Buffer.from('a'), text(70_000, 1), mixedReal(600_000), randomBytes(150_000, 2), Buffer.alloc(300_000, 7)];

  it('finds the end of zlib streams of every block type (stored, fixed, dynamic) and strategy', () => {
    const { Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED } = zlib.constants;
    for (const input of inputs) {
      for (const strategy of [Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED]) {
        for (const level of [0, 1, 6, 9]) {
          const raw = zlib.deflateRawSync(input, { level, strategy });
          const walked = core().walkBlocks(raw);
          assert.equal(Math.ceil(walked.endBit / 8), raw.length, `level ${level} strategy ${strategy}`);
          assert.equal(zlibStreamLength(raw), raw.length);
          assert.ok(walked.finalHeaderBit < walked.endBit && walked.blocks >= 1);
        }
      }
    }
  });

  it('reports every block: a stream of sync-flushed pieces from zlib', () => {
    // zlib with Z_SYNC_FLUSH after each write: data blocks + an empty stored block per flush.
    const d = zlib.createDeflateRaw({ level: 6 });
    const chunks: Buffer[] = [];
    d.on('data', (c: Buffer) => chunks.push(c));
    const parts = [text(10_000, 3), randomBytes(5_000, 4), Buffer.alloc(0), text(20, 5)];
    return (async () => {
      for (const p of parts) {
        d.write(p);
        await new Promise<void>((resolve) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
      }
      d.end();
      await once(d, 'end');
      const raw = Buffer.concat(chunks);
      const walked = core().walkBlocks(raw);
      assert.equal(Math.ceil(walked.endBit / 8), raw.length);
      assert.ok(walked.blocks >= 2 * parts.length, `only ${walked.blocks} blocks`);
    })();
  });

  it('rejects malformed streams with an Error, never crashing', () => {
    const bad: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['block type 3', Buffer.from([0x07, 0, 0, 0])],
      ['stored length mismatch', Buffer.from([0x01, 0x04, 0x00, 0xfa, 0xff, 1, 2, 3, 4])],
      ['truncated stored block', Buffer.from([0x01, 0x04, 0x00, 0xfb, 0xff, 1, 2])],
      ['no final block', Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff])],
      ['trailing byte', Buffer.from([0x03, 0x00, 0x00])],
      ['truncated dynamic block', zlib.deflateRawSync(text(50_000, 6)).subarray(0, 100)],
    ];
    for (const [name, raw] of bad) {
      assert.throws(
        () => core().walkBlocks(raw),
        (err: unknown) => err instanceof Error && (err as NodeJS.ErrnoException).code === 'ERR_BUNDLEFARM_NATIVE' && /^walkBlocks: /.test(err.message),
        name,
      );
    }
    // The smallest valid stream: a fixed block holding only end-of-block.
    assert.deepEqual(core().walkBlocks(Buffer.from([0x03, 0x00])), { blocks: 1, finalHeaderBit: 0, endBit: 10 });
  });

  it('fuzz: truncated, bit-flipped and random streams either walk to their end or throw', () => {
    const next = prng(77);
    const sources: Buffer[] = [0, 1, 4, 6, 9].map((level) => zlib.deflateRawSync(mixture(200_000, next), { level }));
    // libdeflate's own output too, when the addon has it (the walker itself needs no libdeflate)
    const libdeflate = loadLibdeflate().binding;
    if (libdeflate) sources.push(libdeflate.deflatePiece(mixture(200_000, next), 12, true));
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < 3000; i++) {
      const src = sources[i % sources.length] ?? Buffer.alloc(0);
      let raw: Buffer;
      const kind = i % 3;
      if (kind === 0) raw = src.subarray(0, Math.floor(next() * src.length));
      else if (kind === 1) {
        raw = Buffer.from(src);
        for (let f = 0; f < 1 + next() * 4; f++) {
          const bit = Math.floor(next() * raw.length * 8);
          raw[bit >> 3] = (raw[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        }
      } else raw = randomBytes(Math.floor(next() * 300), i);
      try {
        const walked = core().walkBlocks(raw);
        assert.equal(Math.ceil(walked.endBit / 8), raw.length);
        accepted++;
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ERR_BUNDLEFARM_NATIVE', String(err));
        rejected++;
      }
    }
    assert.ok(rejected > 1000, `only ${rejected} of 3000 corrupted streams rejected (${accepted} accepted)`);
  });
});

describe('worker threads', { skip: needsLibdeflate() }, () => {
  it('each thread has its own instance; threads that exit free theirs without disturbing others', async () => {
    // Plain CommonJS so the workers need no TypeScript loader.
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const b = require(workerData.path);
      const input = Buffer.from(workerData.input);
      const pieces = [];
      for (let level = 0; level <= 12; level++) pieces.push(b.deflatePiece(input, level, level === 12));
      parentPort.postMessage(pieces);`;
    const input = mixedReal(MiB / 2);
    const runWorker = () =>
      new Promise<Buffer[]>((resolve, reject) => {
        const w = new Worker(source, { eval: true, workerData: { path: BINDING_PATH, input } });
        w.once('message', (pieces: Uint8Array[]) => resolve(pieces.map((p) => Buffer.from(p))));
        w.once('error', reject);
        w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
      });
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all([runWorker(), runWorker()]);
      for (const pieces of results) {
        assert.equal(pieces.length, 13);
        const expected = Buffer.concat(Array.from({ length: 13 }, () => input));
        assert.ok(zlib.inflateRawSync(Buffer.concat(pieces)).equals(expected));
      }
    }
    // The main thread's instance still works after the workers' envs were torn down.
    assert.ok(zlib.inflateRawSync(lib().deflatePiece(input, 6, true)).equals(input));
  });
});
