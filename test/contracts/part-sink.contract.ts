import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { PartSink } from '@bundlefarm/engine';

/**
 * The contract every PartSink implementation keeps (see part-sink.ts), run against each of them with a
 * way to look at what is visible in the store.
 */
export interface SinkHarness {
  /** A fresh sink on a fresh, empty location. */
  create(): Promise<PartSink>;
  /** Names of the objects/files visible in that location now (hidden temporaries excluded). */
  list(sink: PartSink): Promise<string[]>;
  /** Bytes of one visible object/file. */
  read(sink: PartSink, name: string): Promise<Buffer>;
}

const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');

export function partSinkContract(label: string, harness: SinkHarness): void {
  describe(`PartSink contract: ${label}`, () => {
    it('publishes parts under their final names at commit, and the manifest last', async () => {
      const sink = await harness.create();
      await sink.begin({ name: 'img', maxPartCount: 12 });
      const parts = Array.from({ length: 11 }, (_, i) => randomBytes(1000 + i));
      const pending: Array<Promise<void>> = [];
      for (const [index, data] of parts.entries()) {
        pending.push(sink.putPart({ index, data, sha1: sha1(data) }));
        if (pending.length >= sink.maxInFlight) await pending.shift();
      }
      await Promise.all(pending);
      assert.ok(!(await harness.list(sink)).some((n) => n.endsWith('.manifest.xml')), 'no manifest before commit');
      const names = await sink.commitParts(parts.length);
      assert.equal(names.length, 11);
      for (const [i, name] of names.entries()) {
        assert.match(name, /^img\.part\.\d+$/);
        assert.equal(Number(name.slice('img.part.'.length)), i);
        assert.ok((await harness.read(sink, name)).equals(parts[i]!), `part ${i} content`);
      }
      const visible = await harness.list(sink);
      for (const n of names) assert.ok(visible.includes(n), `${n} visible after commit`);
      assert.ok(!visible.some((n) => n.endsWith('.manifest.xml')));
      await sink.putManifest('img.manifest.xml', '<manifest/>');
      assert.equal((await harness.read(sink, 'img.manifest.xml')).toString(), '<manifest/>');
      assert.deepEqual((await harness.list(sink)).sort(), [...names, 'img.manifest.xml'].sort());
    });

    it('leaves nothing behind when aborted before commit', async () => {
      const sink = await harness.create();
      await sink.begin({ name: 'gone', maxPartCount: 3 });
      await sink.putPart({ index: 0, data: randomBytes(100), sha1: '00' });
      await sink.putPart({ index: 1, data: randomBytes(100), sha1: '00' });
      await sink.abort();
      assert.deepEqual(await harness.list(sink), []);
      await sink.abort(); // idempotent
      await assert.rejects(sink.putPart({ index: 2, data: randomBytes(1), sha1: '00' }));
    });

    it('removes committed parts and the manifest when aborted afterwards', async () => {
      const sink = await harness.create();
      await sink.begin({ name: 'late', maxPartCount: 2 });
      await sink.putPart({ index: 0, data: randomBytes(10), sha1: '00' });
      await sink.commitParts(1);
      await sink.putManifest('late.manifest.xml', '<m/>');
      await sink.abort();
      assert.deepEqual(await harness.list(sink), []);
    });
  });
}
