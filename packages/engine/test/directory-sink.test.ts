import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { DirectorySink, type PartSink } from '@bundlefarm/engine';
import { partSinkContract } from '../../../test/contracts/part-sink.contract.js';
import { tempDir } from '../../../test/helpers/temp-dir.js';

const dirs = new WeakMap<PartSink, string>();

partSinkContract('DirectorySink', {
  async create() {
    const dir = join(await tempDir(), 'bundle');
    const sink = new DirectorySink(dir, { fsync: false });
    dirs.set(sink, dir);
    return sink;
  },
  async list(sink) {
    const all = await readdir(dirs.get(sink)!).catch(() => []);
    return all.filter((n) => !n.startsWith('.'));
  },
  async read(sink, name) {
    return readFile(join(dirs.get(sink)!, name));
  },
});

it('DirectorySink names parts exactly as ec2-bundle-image (padding from the final count) and leaves no temporaries', async () => {
  const dir = await tempDir();
  const sink = new DirectorySink(dir, { fsync: false });
  await sink.begin({ name: 'x', maxPartCount: 1000 });
  for (let i = 0; i < 10; i++) await sink.putPart({ index: i, data: Buffer.from([i]), sha1: '00' });
  const names = await sink.commitParts(10);
  assert.deepEqual(names, ['x.part.00', 'x.part.01', 'x.part.02', 'x.part.03', 'x.part.04', 'x.part.05', 'x.part.06', 'x.part.07', 'x.part.08', 'x.part.09']);
  assert.deepEqual((await readdir(dir)).sort(), names);
});
