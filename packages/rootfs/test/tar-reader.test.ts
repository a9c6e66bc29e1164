import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteReader, readTarEntries, type TarEntry } from '@bundlefarm/rootfs';

/** One ustar header block (+ data, padded), with a correct checksum unless `badSum`. */
function member(name: string, type: string, data: Buffer = Buffer.alloc(0), opts: { uid?: number; linkname?: string; badSum?: boolean } = {}): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'latin1');
  h.write('0000644\0', 100);
  h.write(`${(opts.uid ?? 0).toString(8).padStart(7, '0')}\0`, 108);
  h.write('0000000\0', 116);
  h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write('14000000000\0', 136);
  h.write(type, 156);
  if (opts.linkname) h.write(opts.linkname, 157, 100, 'latin1');
  h.write('ustar\u000000', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${(sum + (opts.badSum ? 1 : 0)).toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad]);
}

function pax(records: Record<string, Buffer | string>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(records)) {
    const body = Buffer.concat([Buffer.from(` ${k}=`), Buffer.isBuffer(v) ? v : Buffer.from(v), Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len++;
    parts.push(Buffer.concat([Buffer.from(String(len)), body]));
  }
  return member('PaxHeader', 'x', Buffer.concat(parts));
}

const END = Buffer.alloc(1024);

async function entries(tar: Buffer): Promise<Array<TarEntry & { data: Buffer }>> {
  const out: Array<TarEntry & { data: Buffer }> = [];
  for await (const { entry, data } of readTarEntries(new ByteReader((async function* () {
    yield tar;
  })()))) {
    const chunks: Buffer[] = [];
    for await (const c of data()) chunks.push(Buffer.from(c.data));
    out.push({ ...entry, data: Buffer.concat(chunks) });
  }
  return out;
}

async function rejects(tar: Buffer, pattern: RegExp): Promise<void> {
  await assert.rejects(entries(tar), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'BF_TARBALL_INVALID');
    assert.match(err.message, pattern);
    return true;
  });
}

test('tar reader: names are normalized; binary pax xattr values and big uids come through byte for byte', async () => {
  const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0x0a, 0x00]);
  const tar = Buffer.concat([
    member('./', '5'),
    pax({ 'SCHILY.xattr.security.capability': cap, uid: '4000000000', mtime: '-1.5', path: './usr//bin/./ping' }),
    member('placeholder', '0', Buffer.from('ping')),
    END,
  ]);
  const [root, ping] = await entries(tar);
  assert.equal(root!.path, '');
  assert.equal(ping!.path, 'usr/bin/ping');
  assert.equal(ping!.uid, 4000000000);
  assert.deepEqual(ping!.mtime, { sec: -2, nsec: 500000000 });
  assert.deepEqual(ping!.xattrs, [['security.capability', cap]]);
  assert.equal(ping!.data.toString(), 'ping');
});

test('tar reader: hostile archives are refused with BF_TARBALL_INVALID', async () => {
  await rejects(Buffer.concat([member('../etc/passwd', '0', Buffer.from('x')), END]), /climbs out of the root/);
  await rejects(Buffer.concat([member('a/../../b', '0'), END]), /climbs out/);
  await rejects(Buffer.concat([member('ok', '0', Buffer.from('x'), { badSum: true }), END]), /checksum/);
  await rejects(member('ok', '0', Buffer.from('data')), /end-of-archive|truncated/);
  await rejects(member('ok', '0', Buffer.alloc(2048)).subarray(0, 1024), /truncated/);
  await rejects(Buffer.concat([pax({ size: '12abc' }), member('x', '0'), END]), /not a number/);
  await rejects(Buffer.concat([member('dev', 'Z'), END]), /not supported/);
  const huge = member('PaxHeader', 'x');
  huge.write(`${(64 * 1024 * 1024).toString(8).padStart(11, '0')}\0`, 124);
  huge.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of huge) sum += b;
  huge.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  await rejects(Buffer.concat([huge, END]), /extended header/);
});
