import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { BINDING_PATH } from '@bundlefarm/native';
import { needsNative } from '@bundlefarm/testkit/requirements.js';
import { core as lib } from './support.js';

// alignedOffset tells where a buffer's memory reaches an aligned address: the engine places each part
// there so that the directory sink can hand it to O_DIRECT, which refuses unaligned memory. Part of
// the addon's core: built with a C compiler alone, no libdeflate needed.
describe('native alignedOffset', { skip: needsNative() }, () => {
  it('counts the bytes up to the next aligned address, 0 when the view is aligned', () => {
    const b = lib();
    const ab = new ArrayBuffer(64 * 1024);
    const skip = b.alignedOffset(new Uint8Array(ab), 4096);
    assert.ok(skip >= 0 && skip < 4096);
    assert.equal(b.alignedOffset(new Uint8Array(ab, skip), 4096), 0);
    assert.equal(b.alignedOffset(new Uint8Array(ab, skip + 1), 4096), 4095);
    assert.equal(b.alignedOffset(new Uint8Array(ab, skip + 4095), 4096), 1);
    assert.equal(b.alignedOffset(new Uint8Array(ab, skip + 4096), 4096), 0);
    assert.equal(b.alignedOffset(new Uint8Array(ab, skip + 513), 512), 511);
    assert.equal(b.alignedOffset(new Uint8Array(ab, 3), 1), 0);
    // a Buffer is a Uint8Array: its pool offset counts
    const buf = Buffer.from(ab, skip + 100, 10);
    assert.equal(b.alignedOffset(buf, 4096), 3996);
  });

  it('refuses alignments that are not powers of two, and non-byte views', () => {
    const b = lib();
    const v = new Uint8Array(16);
    for (const bad of [0, 3, 4095, 1.5, -4096, 2 ** 31]) {
      assert.throws(() => b.alignedOffset(v, bad), (e: unknown) => (e as { code?: string }).code === 'ERR_OUT_OF_RANGE', String(bad));
    }
    assert.throws(() => b.alignedOffset(new Uint16Array(8) as unknown as Uint8Array, 4096), TypeError);
    assert.throws(() => b.alignedOffset(v, '4096' as unknown as number), TypeError);
  });

  it('stays valid when the buffer is transferred to another thread (its memory does not move)', async () => {
    const b = lib();
    const ab = new ArrayBuffer(1024 * 1024 + 4096);
    const skip = b.alignedOffset(new Uint8Array(ab), 4096);
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       const binding = require(${JSON.stringify(BINDING_PATH)});
       parentPort.once('message', (view) => {
         parentPort.postMessage({ there: binding.alignedOffset(view, 4096), offset: view.byteOffset }, [view.buffer]);
       });`,
      { eval: true },
    );
    try {
      const reply = new Promise<{ there: number; offset: number }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      const view = new Uint8Array(ab, skip, 1024 * 1024);
      worker.postMessage(view, [ab]);
      assert.equal(ab.byteLength, 0, 'transferred, not copied');
      assert.deepEqual(await reply, { there: 0, offset: skip });
    } finally {
      await worker.terminate();
    }
  });
});
