import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { BINDING_PATH } from '@bundlefarm/native';
import { needsNative } from '@bundlefarm/testkit/requirements.js';
import { core as native } from './support.js';

// aesCbcEncrypt must give exactly node:crypto's AES-128-CBC (which the fallback uses), chained across
// calls of any whole-block sizes, in place, and refuse what it cannot do without touching the data.
// Part of the addon's core: built with a C compiler alone, no libdeflate needed.

function reference(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const c = createCipheriv('aes-128-cbc', key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

describe('native aesCbcEncrypt', { skip: needsNative() }, () => {
  it("finds Node's OpenSSL", () => {
    assert.equal(native().aesCbcAvailable(), true);
  });

  it('equals node:crypto, chained over calls of every whole-block size, in place', () => {
    const b = native();
    const key = randomBytes(16);
    const iv = randomBytes(16);
    const data = randomBytes(3 * 1024 * 1024 + 48);
    const expected = reference(key, iv, data);
    for (const cuts of [[data.length], [16, 32, 4096, 1024 * 1024], [65536, 65536 + 16, 10 * 1024 * 1024]]) {
      const buf = Buffer.from(data);
      const state = Buffer.from(iv);
      let at = 0;
      for (const n of [...cuts, Infinity]) {
        const end = Math.min(buf.length, at + n);
        b.aesCbcEncrypt(key, state, buf.subarray(at, end));
        at = end;
        if (at === buf.length) break;
      }
      assert.ok(buf.equals(expected), `cuts ${cuts.join(',')}`);
      assert.ok(state.equals(expected.subarray(-16)), 'the state is the last ciphertext block');
    }
    // and openssl's decryption gives the plaintext back
    const d = createDecipheriv('aes-128-cbc', key, iv);
    d.setAutoPadding(false);
    assert.ok(Buffer.concat([d.update(expected), d.final()]).equals(data));
  });

  it('encrypts nothing for an empty buffer and leaves the state alone', () => {
    const iv = randomBytes(16);
    const state = Buffer.from(iv);
    native().aesCbcEncrypt(randomBytes(16), state, Buffer.alloc(0));
    assert.ok(state.equals(iv));
  });

  it('refuses partial blocks, bad key or IV sizes and non-bytes, touching nothing', () => {
    const b = native();
    const data = randomBytes(100);
    const copy = Buffer.from(data);
    assert.throws(() => b.aesCbcEncrypt(randomBytes(16), randomBytes(16), data), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => b.aesCbcEncrypt(randomBytes(15), randomBytes(16), data.subarray(0, 96)), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => b.aesCbcEncrypt(randomBytes(16), randomBytes(32), data.subarray(0, 96)), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => b.aesCbcEncrypt(randomBytes(16), randomBytes(16), 'text' as unknown as Uint8Array), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.ok(data.equals(copy));
  });

  it('refuses a key or iv inside the buffer it encrypts in place, touching nothing', () => {
    const b = native();
    const mem = randomBytes(4096);
    const copy = Buffer.from(mem);
    const buf = mem.subarray(1024, 2048);
    assert.throws(() => b.aesCbcEncrypt(mem.subarray(1024, 1040), randomBytes(16), buf), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => b.aesCbcEncrypt(randomBytes(16), mem.subarray(2040, 2056), buf), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    assert.ok(mem.equals(copy));
    // right next to it is fine
    b.aesCbcEncrypt(mem.subarray(1008, 1024), mem.subarray(2048, 2064), buf);
  });

  it("gives node:crypto's bytes in several threads at once (each loads the addon; OpenSSL is looked up once)", async () => {
    const key = randomBytes(16);
    const iv = randomBytes(16);
    const data = randomBytes(4 * 1024 * 1024);
    const expected = reference(key, iv, data);
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const b = require(workerData.path);
      const buf = Buffer.from(workerData.data);
      b.aesCbcEncrypt(Buffer.from(workerData.key), Buffer.from(workerData.iv), buf);
      parentPort.postMessage(buf);`;
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        new Promise<Buffer>((resolve, reject) => {
          const w = new Worker(source, { eval: true, workerData: { path: BINDING_PATH, key, iv, data } });
          w.once('message', (b: Uint8Array) => resolve(Buffer.from(b)));
          w.once('error', reject);
          w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
        }),
      ),
    );
    for (const r of results) assert.ok(r.equals(expected));
  });
});
