import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeSparseImage } from '@bundlefarm/testkit/images.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';
import { needsNative } from '@bundlefarm/testkit/requirements.js';
import { core } from './support.js';

// Part of the addon's core: built with a C compiler alone, no libdeflate needed.
describe('native dataRuns (SEEK_DATA / SEEK_HOLE)', { skip: needsNative() }, () => {
  it("lists a sparse file's data runs", async () => {
    const b = core();
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

  it('refuses a negative or fractional fd or size with a RangeError, a non-number with a TypeError', () => {
    const b = core();
    for (const [fd, size] of [[-1, 10], [0.5, 10], [0, -1], [0, 1.5], [0, 2 ** 54]]) {
      assert.throws(() => b.dataRuns(fd!, size!), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }, `${fd}, ${size}`);
    }
    assert.throws(() => b.dataRuns('3' as unknown as number, 10), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.deepEqual(b.dataRuns(0, 0), [], 'an empty range has no runs, whatever the fd');
  });
});
