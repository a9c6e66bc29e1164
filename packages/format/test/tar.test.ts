import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ArchiveInvalidError } from '@bundlefarm/errors';
import { TarMemberReader, buildTarHeader, tarStreamLength, type TarSegment } from '@bundlefarm/format';
import { runBytes } from '@bundlefarm/testkit/run.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';

/** GNU tar as ec2-bundle-image runs it (stdout, GNU format, blocking factor 20). */
async function gnuTar(dir: string, args: string[]): Promise<Buffer> {
  const r = await runBytes('tar', ['-c', '--owner', '0', '--group', '0', '-C', dir, ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function ourStream(name: string, data: Buffer, mode: number, mtime: number): Buffer {
  const header = buildTarHeader({ name, size: data.length, mode, mtime });
  const total = tarStreamLength(data.length);
  return Buffer.concat([header, data, Buffer.alloc(total - 512 - data.length)]);
}

function readAll(stream: Buffer, chunk: number, maxSize?: number): { data: Buffer; name: string; size: number; sparse: boolean } {
  const reader = new TarMemberReader(maxSize === undefined ? {} : { maxSize });
  const segments: TarSegment[] = [];
  for (let at = 0; at < stream.length; at += chunk) {
    for (const s of reader.push(stream.subarray(at, at + chunk))) segments.push({ offset: s.offset, data: Buffer.from(s.data) });
  }
  const member = reader.end();
  const out = Buffer.alloc(member.size);
  for (const s of segments) s.data.copy(out, s.offset);
  return { data: out, name: member.name, size: member.size, sparse: member.sparse };
}

describe('tar stream written for one image', () => {
  it('is byte for byte what GNU tar writes for the same file', async () => {
    const dir = await tempDir();
    for (const [size, mode] of [
      [1, 0o644],
      [511, 0o600],
      [512, 0o644],
      [10240 - 512 - 1024, 0o755],
      [10240 - 512 - 1024 + 1, 0o644],
      [307200, 0o644],
      [3 * 1024 * 1024 + 17, 0o640],
    ] as const) {
      const name = `img-${size}.raw`;
      const data = randomBytes(size);
      await writeFile(join(dir, name), data);
      await chmod(join(dir, name), mode);
      await utimes(join(dir, name), 1700000000, 1700000123);
      const theirs = await gnuTar(dir, [name]);
      const ours = ourStream(name, data, mode, 1700000123);
      assert.equal(ours.length, theirs.length, `length for size ${size}`);
      assert.ok(ours.equals(theirs), `bytes for size ${size}`);
      assert.equal(ours.length % 10240, 0);
    }
  });

  it('writes a base-256 size above 8 GiB - 1, as GNU tar does', async () => {
    const dir = await tempDir();
    const size = 9 * 1024 * 1024 * 1024;
    await writeFile(join(dir, 'big.img'), '');
    await truncate(join(dir, 'big.img'), size); // sparse: no disk used
    await utimes(join(dir, 'big.img'), 1700000000, 1700000000);
    await chmod(join(dir, 'big.img'), 0o644);
    // GNU tar without -S reads the holes as zeros; only its header matters here
    const r = await runBytes('sh', ['-c', `tar -c --owner 0 --group 0 -C ${dir} big.img | head -c 512`]);
    const ours = buildTarHeader({ name: 'big.img', size, mode: 0o644, mtime: 1700000000 });
    assert.equal(ours.subarray(124, 136).toString('hex'), '800000000000000240000000');
    assert.ok(ours.equals(r.stdout), 'header equals GNU tar header');
    // just below the limit it stays octal
    const below = buildTarHeader({ name: 'x', size: 0o77777777777, mtime: 0 });
    assert.equal(below.toString('latin1', 124, 136), '77777777777\0');
  });

  it('pads the stream to 10240-byte records with at least two zero blocks', () => {
    assert.equal(tarStreamLength(30 * 1024 * 1024), 31467520); // measured with ec2-bundle-image
    assert.equal(tarStreamLength(1), 10240);
    assert.equal(tarStreamLength(10240 - 1536), 10240);
    assert.equal(tarStreamLength(10240 - 1535), 20480);
  });
});

describe('TarMemberReader', () => {
  it('reads what GNU tar writes, whatever the chunking', async () => {
    const dir = await tempDir();
    const data = randomBytes(100_000);
    await writeFile(join(dir, 'a.img'), data);
    const stream = await gnuTar(dir, ['a.img']);
    for (const chunk of [1, 7, 511, 512, 513, 4096, 1 << 20]) {
      const got = readAll(stream, chunk);
      assert.equal(got.name, 'a.img');
      assert.ok(got.data.equals(data), `chunk ${chunk}`);
    }
  });

  it('reads old-GNU sparse members (tar -S of a sparse image) with holes in place', async () => {
    const dir = await tempDir();
    const path = join(dir, 'sparse.img');
    const size = 64 * 1024 * 1024;
    await truncate(path, 0).catch(() => writeFile(path, ''));
    await writeFile(path, '');
    await truncate(path, size);
    const h = await open(path, 'r+');
    const pieces: Array<[number, Buffer]> = [];
    for (let i = 0; i < 30; i++) pieces.push([i * 2 * 1024 * 1024 + (i % 3) * 4096, randomBytes(8192 + i * 100)]);
    for (const [off, buf] of pieces) await h.write(buf, 0, buf.length, off);
    await h.close();
    const stream = await gnuTar(dir, ['-S', 'sparse.img']);
    assert.equal(stream[156], 'S'.charCodeAt(0), 'GNU tar wrote an old-GNU sparse member');
    const got = readAll(stream, 65536);
    assert.equal(got.sparse, true);
    assert.equal(got.size, size);
    const expected = Buffer.alloc(size);
    for (const [off, buf] of pieces) buf.copy(expected, off);
    assert.ok(got.data.equals(expected));
  });

  it('reads pax members and GNU long names', async () => {
    const dir = await tempDir();
    const long = 'n'.repeat(150) + '.img';
    const data = randomBytes(5000);
    await writeFile(join(dir, long), data);
    const pax = readAll(await gnuTar(dir, ['--format=pax', long]), 1000);
    assert.equal(pax.name, long);
    assert.ok(pax.data.equals(data));
    const gnu = readAll(await gnuTar(dir, [long]), 1000);
    assert.equal(gnu.name, long);
    assert.ok(gnu.data.equals(data));
  });

  it('refuses links, directories, a second member, unsafe names and broken streams', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a.img'), 'hello');
    await writeFile(join(dir, 'b.img'), 'world');
    await symlink('/etc/passwd', join(dir, 'link.img'));
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'c.img'), 'nested');
    const cases: Array<[string, Buffer, RegExp]> = [
      ['symlink', await gnuTar(dir, ['link.img']), /symbolic link/],
      ['directory', await gnuTar(dir, ['--no-recursion', 'sub']), /directory/],
      ['two members', await gnuTar(dir, ['a.img', 'b.img']), /more than one member/],
      ['name with /', await gnuTar(dir, ['sub/c.img']), /not a plain file name/],
      ['name with ..', await gnuTar(join(dir, 'sub'), ['--transform', 's,^,../,', 'c.img']), /not a plain file name/],
      ['hard link', await gnuTar(dir, ['--hard-dereference', 'a.img', 'a.img']), /more than one member|hard link/],
    ];
    const good = await gnuTar(dir, ['a.img']);
    const badSum = Buffer.from(good);
    badSum[0] = badSum[0]! ^ 1;
    cases.push(['bad checksum', badSum, /checksum/]);
    cases.push(['truncated', good.subarray(0, 512 + 3), /ends inside member/]);
    cases.push(['empty archive', Buffer.alloc(10240), /holds no file/]);
    cases.push(['not tar', randomBytes(2048), /not a tar stream|checksum/]);
    for (const [what, stream, message] of cases) {
      assert.throws(() => readAll(stream, 512), (err: unknown) => err instanceof ArchiveInvalidError && message.test(err.message), what);
    }
    // a member larger than allowed is refused from its header, before any data
    assert.throws(() => readAll(good, 512, 4), /over the 4-byte limit/);
  });

  it('refuses hidden names and control/format characters, and a name other than the expected one, from the header', () => {
    for (const [name, message] of [
      ['.bashrc', /tar member name "\.bashrc" is not a plain file name: it starts with "\."/],
      ['evil\nname.img', /"evil\\nname\.img" is not a plain file name/],
      ['a\u202egmi.exe', /"a\\u202egmi\.exe" is not a plain file name: it contains the control or format character U\+202E/],
    ] as const) {
      assert.throws(
        () => new TarMemberReader().push(ourStream(name, Buffer.from('x'), 0o644, 1).subarray(0, 512)),
        (e: unknown) => e instanceof ArchiveInvalidError && message.test(e.message) && !e.message.includes('\n'),
        JSON.stringify(name),
      );
    }
    const stream = ourStream('other.img', Buffer.from('hello'), 0o644, 1);
    assert.throws(
      () => new TarMemberReader({ expectedName: 'a.img' }).push(stream.subarray(0, 512)),
      (e: unknown) => e instanceof ArchiveInvalidError && /tar member "other\.img" is not named after the bundle \("a\.img"\)/.test(e.message),
    );
    const reader = new TarMemberReader({ expectedName: 'other.img' });
    reader.push(stream);
    assert.equal(reader.end().name, 'other.img');
  });
});
