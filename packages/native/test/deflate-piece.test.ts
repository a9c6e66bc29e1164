// Round trips of libdeflate pieces through zlib, the non-final piece format, gzip interop and the
// binding's argument checks. Needs the addon built with libdeflate (node packages/native/scripts/build.mjs
// with libdeflate-dev installed): without it these skip, naming why, or fail with
// BUNDLEFARM_REQUIRE_NATIVE=1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { MAX_LEVEL, SYNC_FLUSH_TRAILER } from '@bundlefarm/native';
import { needsLibdeflate } from '@bundlefarm/testkit/requirements.js';
import {
  MiB,
  assertFinalPiece,
  assertNonFinalPiece,
  blocksOf,
  compressPieces,
  gzipMember,
  inflateAll,
  lib,
  mixedReal,
  mixture,
  prng,
  randomBytes,
  split,
  text,
} from './support.js';

const LEVELS = Array.from({ length: MAX_LEVEL + 1 }, (_, i) => i);

describe('native deflatePiece (libdeflate)', { skip: needsLibdeflate() }, () => {
  it('loads and reports the version of the libdeflate.h it was built with', () => {
    const given = process.env.BUNDLEFARM_LIBDEFLATE_HEADER;
    const path = (given ? [given] : ['/usr/include/libdeflate.h', '/usr/local/include/libdeflate.h']).find((p) => existsSync(p));
    assert.ok(path, 'libdeflate.h not found');
    const header = readFileSync(path, 'utf8').match(/LIBDEFLATE_VERSION_STRING\s+"([^"]+)"/);
    assert.ok(header, `LIBDEFLATE_VERSION_STRING not found in ${path}`);
    assert.equal(lib().version(), header[1]);
    assert.equal(lib().libdeflate, header[1], 'the core reports the same version');
    assert.deepEqual([...SYNC_FLUSH_TRAILER], [0, 0, 0xff, 0xff]);
  });

  it('round-trips empty, 1-byte and small text inputs at every level, alone and concatenated', () => {
    const inputs = [Buffer.alloc(0), Buffer.from('x'), Buffer.from([0]), text(1000, 1), Buffer.from('hello, hello, hello, hello')];
    for (const level of LEVELS) {
      for (const input of inputs) {
        assertFinalPiece(lib().deflatePiece(input, level, true), input);
        assertNonFinalPiece(lib().deflatePiece(input, level, false), input);
      }
      const pieces = compressPieces(inputs, level);
      assert.ok(inflateAll(pieces).equals(Buffer.concat(inputs)), `level ${level}`);
    }
  });

  it('round-trips 1 MiB of zeros, random bytes and real binaries at every level', () => {
    const inputs = { zeros: Buffer.alloc(MiB), random: randomBytes(MiB, 2), binaries: mixedReal(MiB) };
    for (const level of LEVELS) {
      for (const [name, input] of Object.entries(inputs)) {
        const nonFinal = lib().deflatePiece(input, level, false);
        assertNonFinalPiece(nonFinal, input);
        if (name === 'random') {
          // Incompressible: libdeflate stores it (5 header bytes per <= 65535-byte block).
          assert.ok(nonFinal.length <= input.length + 5 * Math.ceil(input.length / 65535) + 10, `level ${level}: ${nonFinal.length}`);
        }
        if (name === 'zeros' && level > 0) assert.ok(nonFinal.length < 8192, `level ${level}: zeros took ${nonFinal.length} bytes`);
        const pieces = compressPieces(split(input, [300_000, 1, 0, 65536]), level);
        assert.ok(inflateAll(pieces).equals(input), `${name} at level ${level}`);
      }
    }
  });

  it('round-trips sizes around the 64 KiB, 300000, 1 MiB and 4 MiB boundaries', () => {
    const sizes = [65535, 65536, 65537, 299_999, 300_000, 300_001, MiB - 1, MiB, MiB + 1, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1];
    const data = mixedReal(4 * MiB + 1);
    const random = randomBytes(4 * MiB + 1, 3);
    for (const size of sizes) {
      for (const level of size >= 4 * MiB - 1 ? [1, 6] : [0, 1, 4, 6, 9]) {
        for (const source of size === MiB ? [data, random] : [data]) {
          const input = source.subarray(0, size);
          assertNonFinalPiece(lib().deflatePiece(input, level, false), input);
          assertFinalPiece(lib().deflatePiece(input, level, true), input);
        }
      }
    }
  });

  it('concatenates many pieces of 1, 2 and 4 MiB blocks into one stream', () => {
    const data = Buffer.concat([mixedReal(6 * MiB), Buffer.alloc(MiB + 17), randomBytes(MiB + 5, 4), text(MiB, 5)]);
    for (const [blockSize, level] of [
      [MiB, 6],
      [2 * MiB, 4],
      [4 * MiB, 1],
      [MiB - 7, 0],
    ] as const) {
      const pieces = compressPieces(blocksOf(data, blockSize), level);
      assert.ok(inflateAll(pieces).equals(data), `block ${blockSize}, level ${level}`);
    }
    // Mixed levels in one stream are fine too: every piece is self-contained.
    const pieces = compressPieces(blocksOf(data, MiB), (i) => (i * 5) % (MAX_LEVEL + 1));
    assert.ok(inflateAll(pieces).equals(data));
  });

  it('fuzz: random mixtures cut into random pieces at random levels (seeded, 300 cases)', () => {
    const next = prng(0x5eed);
    for (let c = 0; c < 300; c++) {
      const n = Math.floor(next() ** 2 * 400_000);
      const data = mixture(n, next);
      const cuts: number[] = [];
      const nPieces = 1 + Math.floor(next() * 6);
      for (let k = 1; k < nPieces; k++) cuts.push(Math.floor(next() ** 2 * n * 0.6));
      const blocks = split(data, cuts);
      const levels = blocks.map(() => Math.floor(next() * (MAX_LEVEL + 1)));
      const pieces = compressPieces(blocks, (i) => levels[i] ?? 6);
      assert.ok(inflateAll(pieces).equals(data), `case ${c}: ${n} bytes, cuts ${cuts.join(',')}, levels ${levels.join(',')}`);
    }
  });

  describe('gzip member built from pieces', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bundlefarm-native-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    const cases: Array<[string, Buffer, number, number]> = [
      ['real binaries, 1 MiB blocks, level 6', mixedReal(3 * MiB + 12345), MiB, 6],
      ['mixed data, 2 MiB blocks, level 4', Buffer.concat([text(2 * MiB, 7), randomBytes(MiB, 8), Buffer.alloc(2 * MiB)]), 2 * MiB, 4],
      ['exact multiple of the block size (empty final piece), level 12', mixedReal(2 * MiB), MiB, 12],
      ['empty input', Buffer.alloc(0), MiB, 6],
    ];
    for (const [name, data, blockSize, level] of cases) {
      it(`is accepted by gzip -t and gunzip -c: ${name}`, () => {
        const blocks = blocksOf(data, blockSize);
        if (data.length % blockSize === 0 && data.length > 0) blocks.push(Buffer.alloc(0));
        const gz = gzipMember(compressPieces(blocks, level), data);
        const file = join(dir, `${name.replace(/\W+/g, '-')}.gz`);
        writeFileSync(file, gz);
        const test = spawnSync('gzip', ['-t', file], { encoding: 'utf8' });
        assert.equal(test.error, undefined, 'gzip must be installed');
        assert.equal(test.status, 0, `gzip -t: ${test.stderr}`);
        assert.equal(test.stderr, '', 'gzip -t must not warn (e.g. about trailing garbage)');
        const out = spawnSync('gunzip', ['-c', file], { maxBuffer: 64 * MiB });
        assert.equal(out.status, 0, `gunzip -c: ${out.stderr.toString()}`);
        assert.ok(out.stdout.equals(data), 'gunzip -c output differs from the input');
        assert.ok(zlib.gunzipSync(gz).equals(data));
      });
    }
  });

  describe('argument checks', () => {
    const input = Buffer.from('data');
    const expectError = (fn: () => unknown, type: typeof TypeError | typeof RangeError, code: string, message: RegExp) =>
      assert.throws(fn, (err: unknown) => {
        assert.ok(err instanceof type, `expected a ${type.name}, got ${String(err)}`);
        assert.equal((err as NodeJS.ErrnoException).code, code);
        assert.match((err).message, message);
        return true;
      });
    // The binding is untyped at run time: call it through a loose signature.
    const call = (...args: unknown[]) => (lib().deflatePiece as (...a: unknown[]) => Buffer)(...args);
    const crc = (...args: unknown[]) => (lib().crc32 as (...a: unknown[]) => number)(...args);

    it('rejects bad inputs with TypeErrors', () => {
      for (const bad of ['text', 42, null, undefined, {}, [1, 2], new Uint16Array(4), new DataView(new ArrayBuffer(4)), new Int8Array(4)]) {
        expectError(() => call(bad, 6, true), TypeError, 'ERR_INVALID_ARG_TYPE', /input must be a Uint8Array/);
      }
      expectError(() => call(input), TypeError, 'ERR_INVALID_ARG_TYPE', /takes 3 arguments/);
      expectError(() => call(input, '6', true), TypeError, 'ERR_INVALID_ARG_TYPE', /level must be a number/);
      expectError(() => call(input, 6n, true), TypeError, 'ERR_INVALID_ARG_TYPE', /level must be a number/);
      expectError(() => call(input, 6, 1), TypeError, 'ERR_INVALID_ARG_TYPE', /final must be a boolean/);
      expectError(() => call(input, 6, undefined), TypeError, 'ERR_INVALID_ARG_TYPE', /final must be a boolean/);
    });

    it('rejects levels outside 0..12 and non-integers with RangeErrors', () => {
      for (const bad of [-1, 13, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -0.5, 2 ** 32 + 6]) {
        expectError(() => call(input, bad, false), RangeError, 'ERR_OUT_OF_RANGE', /level must be an integer from 0 to 12/);
      }
    });

    it('compresses exactly the bytes of a Uint8Array view (byteOffset and length respected)', () => {
      const backing = new Uint8Array(text(5000, 9));
      const view = backing.subarray(1234, 3456);
      assert.ok(zlib.inflateRawSync(lib().deflatePiece(view, 6, true)).equals(view));
      const detached = new Uint8Array(new ArrayBuffer(8));
      structuredClone(detached.buffer, { transfer: [detached.buffer] });
      assert.ok(zlib.inflateRawSync(lib().deflatePiece(detached, 6, true)).equals(Buffer.alloc(0)));
    });

    it('crc32 matches zlib.crc32, chains, and checks its arguments', () => {
      const data = mixedReal(MiB + 3);
      assert.equal(lib().crc32(data), zlib.crc32(data));
      assert.equal(lib().crc32(Buffer.alloc(0)), 0);
      assert.equal(lib().crc32(Buffer.from('123456789')), 0xcbf43926);
      const a = data.subarray(0, 1000);
      const b = data.subarray(1000);
      assert.equal(lib().crc32(b, lib().crc32(a)), zlib.crc32(data));
      assert.equal(lib().crc32(b, zlib.crc32(a)), zlib.crc32(b, zlib.crc32(a)));
      assert.equal(crc(a, undefined), zlib.crc32(a));
      expectError(() => crc('abc'), TypeError, 'ERR_INVALID_ARG_TYPE', /input must be a Uint8Array/);
      expectError(() => crc(a, '1'), TypeError, 'ERR_INVALID_ARG_TYPE', /initial must be a number/);
      for (const bad of [-1, 2 ** 32, 0.5]) expectError(() => crc(a, bad), RangeError, 'ERR_OUT_OF_RANGE', /initial must be an integer/);
    });
  });
});
