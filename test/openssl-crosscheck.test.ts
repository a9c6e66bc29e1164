import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseManifest, signedContent } from '@bundlefarm/format';
import { bundlefarm } from './helpers/cli.js';
import { writeIdentity } from './helpers/identity.js';
import { pseudoRandom, textLike } from './helpers/images.js';
import { needsTools } from './helpers/requirements.js';
import { run } from './helpers/run.js';
import { tempDir } from './helpers/temp-dir.js';

/**
 * Our bundle, opened with the openssl and tar command-line tools alone — what ec2-unbundle does — so
 * nothing of ours checks itself.
 */
describe('a bundlefarm bundle, checked with openssl, gunzip and tar only', { skip: needsTools(['openssl'], 'apt-get install openssl') }, () => {
  it('decrypts, gunzips and untars to the image; digests and signature verify', async () => {
    const dir = await tempDir();
    const { key, cert } = await writeIdentity(dir);
    const image = join(dir, 'disk.img');
    const content = Buffer.concat([textLike(9 * 1024 * 1024), pseudoRandom(12 * 1024 * 1024, 11), Buffer.alloc(6 * 1024 * 1024)]);
    await writeFile(image, content);
    const out = join(dir, 'bundle');
    const r = await bundlefarm(['bundle', '-i', image, '-c', cert, '-k', key, '-u', '1234-5678-9012', '-r', 'x86_64', '-d', out, '--kernel', 'aki-12345678', '-B', 'ami=sda1,root=/dev/sda1']);
    assert.equal(r.code, 0, r.stderr);
    const manifestPath = join(out, 'disk.img.manifest.xml');
    const xml = await readFile(manifestPath, 'utf8');
    const { manifest } = parseManifest(xml);
    assert.ok(manifest.image.parts.length >= 2);

    // 1. key and IV with `openssl pkeyutl -decrypt` (PKCS#1 v1.5): 32 hex characters each
    const unwrap = async (hex: string, name: string): Promise<string> => {
      const f = join(dir, name);
      await writeFile(f, Buffer.from(hex, 'hex'));
      const d = await run('openssl', ['pkeyutl', '-decrypt', '-inkey', key, '-in', f, '-pkeyopt', 'rsa_padding_mode:pkcs1']);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, /^[0-9a-f]{32}$/);
      return d.stdout;
    };
    const aesKey = await unwrap(manifest.image.userEncryptedKey, 'key.bin');
    const aesIv = await unwrap(manifest.image.userEncryptedIv, 'iv.bin');

    // 2. every part's SHA-1 with `openssl sha1`
    for (const p of manifest.image.parts) {
      const s = await run('openssl', ['sha1', '-r', join(out, p.filename)]);
      assert.equal(s.stdout.split(' ')[0], p.digest, p.filename);
    }

    // 3. cat parts | openssl enc -d | gunzip | tar x, with the tar stream's SHA-1 on the side
    const parts = manifest.image.parts.map((p) => join(out, p.filename)).join(' ');
    const tarSha = await run('sh', ['-c', `cat ${parts} | openssl enc -d -aes-128-cbc -K ${aesKey} -iv ${aesIv} | gunzip | tee ${dir}/stream.tar | openssl sha1 -r`]);
    assert.equal(tarSha.code, 0, tarSha.stderr);
    assert.equal(tarSha.stdout.split(' ')[0], manifest.image.digest, 'image digest = SHA-1 of the tar stream');
    const x = await run('tar', ['-x', '-f', join(dir, 'stream.tar'), '-C', join(dir)], {});
    assert.equal(x.code, 0, x.stderr);
    const list = await run('tar', ['-tvf', join(dir, 'stream.tar')]);
    assert.match(list.stdout.trim(), /^-rw-r--r-- root\/root +28311552 .* disk\.img$/, 'one regular member, root/root');
    assert.ok((await readFile(join(dir, 'disk.img'))).equals(content));

    // 4. the signature with `openssl dgst -sha1 -verify` over the two substrings
    await writeFile(join(dir, 'signed.txt'), signedContent(xml));
    await writeFile(join(dir, 'sig.bin'), Buffer.from(manifest.signature!, 'hex'));
    const pub = await run('openssl', ['x509', '-in', cert, '-pubkey', '-noout']);
    await writeFile(join(dir, 'pub.pem'), pub.stdout);
    const v = await run('openssl', ['dgst', '-sha1', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.bin'), join(dir, 'signed.txt')]);
    assert.equal(v.stdout.trim(), 'Verified OK');

    // 5. the EC2 copy of the key is wrapped for EC2's certificate (1024-bit: 128 bytes)
    assert.equal(manifest.image.ec2EncryptedKey.length, 256);
    assert.equal(manifest.image.ec2EncryptedIv.length, 256);
  });
});
