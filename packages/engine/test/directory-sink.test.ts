import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DirectorySink, type PartSink } from '@bundlefarm/engine';
import { loadNative } from '@bundlefarm/native';
import { partSinkContract } from '../../../test/contracts/part-sink.contract.js';
import { needsNative, needsTools } from '@bundlefarm/testkit/requirements.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';

const execFileAsync = promisify(execFile);

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

/** `n` bytes of pattern in memory aligned to 4096 (as the engine places parts), or off by `misalign`. */
function alignedPart(n: number, seed: number, misalign = 0): Buffer {
  const ab = new ArrayBuffer(n + 8192);
  const skip = loadNative().binding!.alignedOffset(new Uint8Array(ab), 4096) + misalign;
  const b = Buffer.from(ab, skip, n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff;
  return b;
}

/** Bytes of a file in the page cache (util-linux fincore). */
async function residentBytes(path: string): Promise<number> {
  const { stdout } = await execFileAsync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path]);
  return Number(stdout.trim());
}

// O_DIRECT needs the addon's core (aligned part memory), not libdeflate; fincore shows the page cache.
describe('DirectorySink with O_DIRECT', { skip: needsNative() || needsTools(['fincore'], 'apt-get install util-linux') }, () => {
  it('writes aligned parts past the page cache, the unaligned tail of the last one buffered, byte for byte', async () => {
    const dir = await tempDir();
    const sink = new DirectorySink(dir);
    await sink.begin({ name: 'img', maxPartCount: 4 });
    const MiB = 1024 * 1024;
    const parts = [alignedPart(4 * MiB, 1), alignedPart(4 * MiB, 2), alignedPart(4 * MiB + 4096 + 1234, 3), alignedPart(4096, 4)];
    for (const [index, data] of parts.entries()) await sink.putPart({ index, data, sha1: '00' });
    const names = await sink.commitParts(parts.length);
    assert.deepEqual(sink.writes, { direct: 4, buffered: 0 });
    for (const [i, name] of names.entries()) {
      const path = join(dir, name);
      assert.ok((await readFile(path)).equals(parts[i]!), `${name} content`);
    }
    // read back above, so check the cache on fresh writes: the first part's 4 MiB never entered it
    const fresh = new DirectorySink(join(dir, 'again'));
    await fresh.begin({ name: 'img', maxPartCount: 2 });
    await fresh.putPart({ index: 0, data: parts[0]!, sha1: '00' });
    await fresh.putPart({ index: 1, data: parts[2]!, sha1: '00' });
    const [first, second] = await fresh.commitParts(2);
    assert.equal(await residentBytes(join(dir, 'again', first!)), 0, 'a whole aligned part is not in the page cache');
    assert.ok((await residentBytes(join(dir, 'again', second!))) <= 4096, 'only the tail page of the last part went through the cache');
    assert.ok((await readFile(join(dir, 'again', second!))).equals(parts[2]!));
  });

  it('writes buffered what O_DIRECT cannot take: unaligned memory, less than a page, or directIo off', async () => {
    const dir = await tempDir();
    const sink = new DirectorySink(dir);
    await sink.begin({ name: 'img', maxPartCount: 3 });
    const unaligned = alignedPart(64 * 1024, 5, 16); // what a plain Buffer from malloc looks like
    const small = alignedPart(4095, 6);
    await sink.putPart({ index: 0, data: unaligned, sha1: '00' });
    await sink.putPart({ index: 1, data: small, sha1: '00' });
    const names = await sink.commitParts(2);
    assert.deepEqual(sink.writes, { direct: 0, buffered: 2 });
    assert.ok((await readFile(join(dir, names[0]!))).equals(unaligned));
    assert.ok((await readFile(join(dir, names[1]!))).equals(small));

    const off = new DirectorySink(join(dir, 'off'), { directIo: 'off' });
    await off.begin({ name: 'img', maxPartCount: 1 });
    const aligned = alignedPart(1024 * 1024, 7);
    await off.putPart({ index: 0, data: aligned, sha1: '00' });
    const [name] = await off.commitParts(1);
    assert.deepEqual(off.writes, { direct: 0, buffered: 1 });
    assert.equal(await residentBytes(join(dir, 'off', name!)), aligned.length, 'buffered: in the page cache');
  });
});
