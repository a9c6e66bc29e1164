import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createDecipheriv, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { constants, gunzipSync, inflateRawSync } from 'node:zlib';
import {
  bundleImage,
  createBundle,
  DirectorySink,
  DirectorySource,
  engineBackends,
  FileImageSource,
  findDataRuns,
  sparseDataRuns,
  unbundle,
  ThreadPool,
  type BundleResult,
} from '@bundlefarm/engine';
import { ec2CertificateForRegion, parseManifest, TarMemberReader } from '@bundlefarm/format';
import { testIdentity } from '@bundlefarm/testkit/identity.js';
import { pseudoRandom, randomIslands, textLike, writeSparseImage } from '@bundlefarm/testkit/images.js';
import { slowOnly } from '@bundlefarm/testkit/requirements.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';

const pool = new ThreadPool({ threads: 2 });
after(() => pool.close());

const GiB = 1024 ** 3;

async function gzipOf(dir: string, result: BundleResult, maxParts = Infinity): Promise<Buffer> {
  const d = createDecipheriv('aes-128-cbc', result.secret.key, result.secret.iv);
  const chunks: Buffer[] = [];
  for (const p of result.facts.parts.slice(0, maxParts)) chunks.push(d.update(await readFile(join(dir, p.filename))));
  if (maxParts >= result.facts.parts.length) chunks.push(d.final());
  return Buffer.concat(chunks);
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

describe('sparse images', () => {
  it('become an old-GNU sparse member that GNU tar extracts to the same bytes', async () => {
    const dir = await tempDir();
    const image = join(dir, 'disk.img');
    const size = 300 * 1024 * 1024;
    const islands = [
      { offset: 0, data: textLike(1024 * 1024) },
      { offset: 50 * 1024 * 1024 + 4096, data: pseudoRandom(3 * 1024 * 1024, 2) },
      ...randomIslands(size, 40, 70_000),
      { offset: size - 4096, data: textLike(4096, 3) },
    ];
    await writeSparseImage(image, size, islands);
    const out = join(dir, 'out');
    const result = await bundleImage({ image, pool }, new DirectorySink(out, { fsync: false }));
    assert.equal(result.stats.sparse, true);
    assert.ok(result.stats.tarBytes < 20 * 1024 * 1024, `tar stream ${result.stats.tarBytes} bytes: holes left out`);
    const tar = gunzipSync(await gzipOf(out, result));
    assert.equal(tar[156], 'S'.charCodeAt(0), "typeflag 'S'");
    assert.equal(createHash('sha1').update(tar).digest('hex'), result.facts.digest);
    await writeFile(join(dir, 'stream.tar'), tar);
    const x = spawnSync('tar', ['-x', '-f', join(dir, 'stream.tar'), '-C', join(dir, 'out')]);
    assert.equal(x.status, 0, x.stderr.toString());
    assert.equal(await sha256(join(dir, 'out', 'disk.img')), await sha256(image), 'GNU tar restores the image');
  });

  it('unbundle restores the image with its holes', { skip: slowOnly('a 2 GiB sparse image, read back twice') }, async () => {
    const dir = await tempDir();
    const image = join(dir, 'holes.img');
    const size = 2 * GiB;
    await writeSparseImage(image, size, randomIslands(size, 16, 300_000));
    const out = join(dir, 'bundle');
    const created = await createBundle(
      { image, pool, spec: { accountId: '123456789012', architecture: 'x86_64' }, user: testIdentity(), ec2Certificate: ec2CertificateForRegion() },
      new DirectorySink(out, { fsync: false }),
    );
    assert.equal(created.result.stats.sparse, true);
    const back = join(dir, 'back');
    const r = await unbundle({
      manifest: parseManifest(await readFile(join(out, created.manifestFile))),
      privateKey: testIdentity().privateKey,
      source: new DirectorySource(out),
      destination: back,
    });
    const st = await stat(r.path);
    assert.equal(st.size, size);
    assert.ok(st.blocks * 512 < 64 * 1024 * 1024, `restored file is sparse (${st.blocks * 512} bytes allocated)`);
    assert.equal(await sha256(r.path), await sha256(image));
  });

  it('the read-based scan finds the same data as the filesystem', async () => {
    const dir = await tempDir();
    const image = join(dir, 'scan.img');
    const size = 512 * 1024 * 1024 + 12345;
    const islands = randomIslands(size, 25, 100_000);
    await writeSparseImage(image, size, islands);
    const scanned = await findDataRuns(image, size, pool, { chunk: 64 * 1024, taskSize: 32 * 1024 * 1024 });
    const src = new FileImageSource(image);
    await src.open();
    const { runs: fromFs, method } = await sparseDataRuns(src, size, pool);
    // the fallback reads through the open descriptor too (the pool's threads share it), never by name
    const byFd = await findDataRuns(src.fd!, size, pool, { chunk: 64 * 1024, taskSize: 32 * 1024 * 1024 });
    await src.close();
    assert.deepEqual(byFd, scanned, 'the same runs through the descriptor as by path');
    // with the addon (SEEK_DATA is its call), ext4 and tmpfs answer through the open descriptor; without it
    // (BUNDLEFARM_NATIVE=off, which .ci/run also runs) this very scan is the method
    const expected = engineBackends().holes === 'SEEK_DATA' ? 'seek-data' : 'read';
    assert.equal(method, expected, `holes found by ${expected}`);
    for (const runs of [scanned, fromFs]) {
      for (const { offset, data } of islands) {
        assert.ok(runs.some((r) => r.offset <= offset && offset + data.length <= r.offset + r.length), `island at ${offset} covered`);
      }
      for (let i = 1; i < runs.length; i++) assert.ok(runs[i]!.offset > runs[i - 1]!.offset + runs[i - 1]!.length - 1);
    }
    // the scan never reports zeros it could see as data: every run starts and ends in 64 KiB chunks holding data
    assert.ok(scanned.reduce((s, r) => s + r.length, 0) <= 25 * 3 * 64 * 1024);
  });
});

describe('images above 8 GiB', { skip: slowOnly('9 GiB images') }, () => {
  it('a 9 GiB sparse image: base-256 sizes in the tar header, round trip through unbundle', async () => {
    const dir = await tempDir();
    const image = join(dir, 'nine.img');
    const size = 9 * GiB + 12345;
    const islands = [...randomIslands(size, 8, 200_000), { offset: size - 5000, data: textLike(5000) }];
    await writeSparseImage(image, size, islands);
    const out = join(dir, 'bundle');
    const created = await createBundle(
      { image, pool, spec: { accountId: '123456789012', architecture: 'x86_64' }, user: testIdentity(), ec2Certificate: ec2CertificateForRegion() },
      new DirectorySink(out, { fsync: false }),
    );
    const tar = gunzipSync(await gzipOf(out, created.result));
    assert.equal(tar[483], 0x80, 'real size in base-256');
    const reader = new TarMemberReader();
    reader.push(tar);
    assert.equal(reader.end().size, size);
    const back = join(dir, 'back');
    const r = await unbundle({
      manifest: parseManifest(await readFile(join(out, created.manifestFile))),
      privateKey: testIdentity().privateKey,
      source: new DirectorySource(out),
      destination: back,
    });
    const h = await open(r.path, 'r');
    for (const { offset, data } of islands) {
      const buf = Buffer.alloc(data.length);
      await h.read(buf, 0, data.length, offset);
      assert.ok(buf.equals(data), `island at ${offset}`);
    }
    await h.close();
    assert.equal((await stat(r.path)).size, size);
  });

  it('a 9 GiB image as a plain member: base-256 size field, and memory that does not grow with the image', async () => {
    const dir = await tempDir();
    const small = join(dir, 'one.img');
    const big = join(dir, 'nine.img');
    await writeSparseImage(small, 1 * GiB, randomIslands(1 * GiB, 8, 100_000));
    await writeSparseImage(big, 9 * GiB, randomIslands(9 * GiB, 8, 100_000));
    // a separate process per image, so each peak RSS is that bundle's alone
    const child = fileURLToPath(new URL('./fixtures/bundle-plain.mjs', import.meta.url));
    const run = (image: string, out: string): { maxRSS: number; heapAfterGc: number; tarBytes: number; key: string; iv: string; first: string } => {
      const r = spawnSync(process.execPath, ['--expose-gc', child, image, out], { cwd: process.cwd(), encoding: 'utf8', maxBuffer: 1 << 20 });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const a = run(small, join(dir, 'out1'));
    const b = run(big, join(dir, 'out9'));
    assert.ok(b.tarBytes > 9 * GiB, 'plain member: the whole image went through the pipeline');
    // Nothing accumulates per block or part: the heap after the bundle is the same for 1 and 9 GiB.
    assert.ok(b.heapAfterGc < a.heapAfterGc + 4 * 1024 * 1024, `heap after GC ${b.heapAfterGc} (9 GiB) vs ${a.heapAfterGc} (1 GiB)`);
    // Peak RSS may differ only by V8's young generation, which grows with the allocation rate up to
    // 3 x 16 MiB and then stays: bounded, whatever the image size.
    assert.ok(b.maxRSS < a.maxRSS + 64 * 1024 * 1024, `peak RSS ${b.maxRSS} for 9 GiB vs ${a.maxRSS} for 1 GiB`);
    assert.ok(b.maxRSS < 300 * 1024 * 1024, `peak RSS ${b.maxRSS} under 300 MB`);
    // the first 512 bytes of the stream: a plain '0' member with a base-256 size field
    const part = await readFile(join(dir, 'out9', b.first));
    const d = createDecipheriv('aes-128-cbc', Buffer.from(b.key, 'hex'), Buffer.from(b.iv, 'hex'));
    // only the first 16 KiB of ciphertext: 10 MiB of compressed zeros would inflate to gigabytes
    const start = inflateRawSync(d.update(part.subarray(0, 16384)).subarray(10), { finishFlush: constants.Z_SYNC_FLUSH });
    assert.equal(start[156], '0'.charCodeAt(0));
    assert.equal(start.subarray(124, 136).toString('hex'), '800000000000000240000000');
  });
});
