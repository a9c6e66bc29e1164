// The cipher thread's state machine, driven in this thread as cipher-stage.ts drives it through
// postMessage: what comes out is openssl's aes-128-cbc of the gzip stream (stored blocks framed in
// place), cut into parts, with never more than `maxParts` part buffers out at the sink — a sink that
// does not give parts back stalls encryption instead of letting memory grow.
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadNative } from '@bundlefarm/native';
import { needsNative } from '@bundlefarm/testkit/requirements.js';
import { CipherThread } from '../src/cipher-thread.js';
import type { CipherReply, CipherRequest } from '../src/thread-protocol.js';

const key = randomBytes(16);
const iv = randomBytes(16);

/** Deflate stored blocks (BTYPE 00) of `data`, written out independently of the engine. */
function storedBlocks(data: Uint8Array, final: boolean): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  do {
    const n = Math.min(65535, data.length - at);
    const header = Buffer.alloc(5);
    header[0] = final && at + n === data.length ? 1 : 0;
    header.writeUInt16LE(n, 1);
    header.writeUInt16LE(~n & 0xffff, 3);
    out.push(header, Buffer.from(data.subarray(at, at + n)));
    at += n;
  } while (at < data.length);
  return Buffer.concat(out);
}

/** A thread with a sink that keeps every part until `freeOne` gives the oldest back. */
function harness(binding: ReturnType<typeof loadNative>['binding'], partSize: number, maxParts: number) {
  const replies: CipherReply[] = [];
  const held: Uint8Array[] = [];
  const parts: Buffer[] = [];
  let maxHeld = 0;
  const thread = new CipherThread((m) => {
    replies.push(m);
    if (m.type === 'part') {
      // the sink's copy: the buffer itself goes back to the thread and is refilled
      parts.push(Buffer.from(m.data));
      held.push(m.data);
      maxHeld = Math.max(maxHeld, held.length);
    }
  }, binding);
  const send = (m: CipherRequest): void => thread.receive(m);
  send({ type: 'init', key: new Uint8Array(key), iv: new Uint8Array(iv), partSize, maxParts });
  return {
    send,
    replies,
    parts,
    held,
    get maxHeld() {
      return maxHeld;
    },
    freeOne(): void {
      const p = held.shift()!;
      send({ type: 'free', buffer: p.buffer as SharedArrayBuffer });
    },
    errors: () => replies.filter((r) => r.type === 'error'),
  };
}

const paths: Array<{ name: string; binding: () => ReturnType<typeof loadNative>['binding']; skip: () => string | false }> = [
  { name: 'node:crypto', binding: () => null, skip: () => false },
  { name: 'native AES in place', binding: () => loadNative().binding, skip: needsNative },
];

for (const path of paths) {
  describe(`cipher thread (${path.name})`, { skip: path.skip() }, () => {
    it('parts are aes-128-cbc of the pieces and framed stored blocks in order, at most maxParts out at once', () => {
      const partSize = 4000;
      const maxParts = 2;
      const t = harness(path.binding(), partSize, maxParts);
      const piece1 = randomBytes(3001);
      const block1 = randomBytes(70_000); // two stored blocks: 65535 + 4465
      const piece2 = randomBytes(5);
      const block2 = randomBytes(65_600); // the final block: BFINAL on its last stored block only
      t.send({ type: 'bytes', seq: 0, data: new Uint8Array(piece1) });
      t.send({ type: 'stored', seq: 1, data: new Uint8Array(block1), final: false });
      t.send({ type: 'bytes', seq: 2, data: new Uint8Array(piece2) });
      t.send({ type: 'stored', seq: 3, data: new Uint8Array(block2), final: true });
      t.send({ type: 'end' });

      // the sink has given nothing back: the thread stops at maxParts parts and waits
      assert.equal(t.parts.length, maxParts);
      assert.ok(!t.replies.some((r) => r.type === 'done'), 'not done while parts are withheld');
      assert.ok(t.replies.filter((r) => r.type === 'ack').length < 4, 'the messages behind the stall are not acked yet');
      while (!t.replies.some((r) => r.type === 'done')) {
        assert.ok(t.held.length > 0, 'stalled with no part out: nothing could ever resume it');
        t.freeOne();
      }
      assert.deepEqual(t.errors(), []);
      assert.ok(t.maxHeld <= maxParts, `${t.maxHeld} part buffers were out at once`);

      const plain = Buffer.concat([piece1, storedBlocks(block1, false), piece2, storedBlocks(block2, true)]);
      const c = createCipheriv('aes-128-cbc', key, iv);
      const expected = Buffer.concat([c.update(plain), c.final()]);
      const got = Buffer.concat(t.parts);
      assert.equal(got.length, expected.length);
      assert.ok(got.equals(expected), 'ciphertext differs from openssl aes-128-cbc');
      assert.deepEqual(
        t.parts.map((p) => p.length),
        [...Array<number>(Math.floor(expected.length / partSize)).fill(partSize), expected.length % partSize].filter((n) => n > 0),
      );
      const done = t.replies.find((r) => r.type === 'done');
      assert.deepEqual(done, { type: 'done', bytes: expected.length });

      // every message acked once, in order; a stored block comes back for reuse, a piece does not
      const acks = t.replies.filter((r) => r.type === 'ack');
      assert.deepEqual(
        acks.map((a) => a.seq),
        [0, 1, 2, 3],
      );
      assert.ok(Buffer.from(acks[1]!.data!).equals(block1));
      assert.ok(Buffer.from(acks[3]!.data!).equals(block2));
      assert.equal(acks[0]!.data, undefined);
    });

    it('a stream that ends on a part boundary gets its padding in one more part', () => {
      const partSize = 64;
      const t = harness(path.binding(), partSize, 1);
      const data = randomBytes(partSize * 3);
      t.send({ type: 'bytes', seq: 0, data: new Uint8Array(data) });
      t.send({ type: 'end' });
      while (!t.replies.some((r) => r.type === 'done')) t.freeOne();
      assert.deepEqual(t.errors(), []);
      const c = createCipheriv('aes-128-cbc', key, iv);
      assert.ok(Buffer.concat(t.parts).equals(Buffer.concat([c.update(data), c.final()])));
      assert.deepEqual(
        t.parts.map((p) => p.length),
        [64, 64, 64, 16],
      );
      assert.equal(t.maxHeld, 1);
    });
  });
}
