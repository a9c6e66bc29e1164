import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { assertOneLineError, BIN, bundlefarm } from '@bundlefarm/testkit/cli.js';
import { generateSelfSignedIdentity, parseManifest } from '@bundlefarm/format';
import { writeIdentity } from '@bundlefarm/testkit/identity.js';
import { textLike, writeRandomFile } from '@bundlefarm/testkit/images.js';
import { needsNative, needsTools } from '@bundlefarm/testkit/requirements.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';
import { SMALL } from '@bundlefarm/testkit/fixtures.js';

const execFileAsync = promisify(execFile);

async function setup() {
  const dir = await tempDir();
  const ids = await writeIdentity(dir);
  const image = join(dir, 'root.img');
  await writeFile(image, Buffer.concat([textLike(3 * 1024 * 1024), Buffer.alloc(2 * 1024 * 1024)]));
  return { dir, ...ids, image };
}

const base = (s: { image: string; cert: string; key: string }, dest: string): string[] => [
  'bundle', '-i', s.image, '-c', s.cert, '-k', s.key, '-u', '123456789012', '-r', 'x86_64', '-d', dest,
];

describe('bundlefarm CLI', () => {
  it('shows help with the ec2-ami-tools flag names', async () => {
    const r = await bundlefarm(['bundle', '--help']);
    assert.equal(r.code, 0);
    for (const flag of ['-i, --image', '-c, --cert', '-k, --privatekey', '-u, --user', '-r, --arch', '-d, --destination', '-p, --prefix', '--kernel', '--ramdisk', '-B, --block-device-mapping', '--productcodes', '--ec2cert', '--region']) {
      assert.ok(r.stdout.includes(flag), flag);
    }
    const u = await bundlefarm(['unbundle', '--help']);
    for (const flag of ['-m, --manifest', '-k, --privatekey', '-s, --source', '-d, --destination']) assert.ok(u.stdout.includes(flag), flag);
  });

  it('bundles with prefix, kernel, ramdisk, mapping, product codes and region; verifies; unbundles', async () => {
    const s = await setup();
    const out = join(s.dir, 'out');
    const r = await bundlefarm([
      ...base(s, out), '-u', '1234-5678-9012', '-p', 'my-image_v1.0', '--kernel', 'aki-11111111', '--ramdisk', 'ari-22222222',
      '-B', 'root=/dev/sda1,ami=sda1,ephemeral0=sda2', '--productcodes', 'ABCD1234,EFGH5678', '--region', 'cn-north-1', '--level', '9',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /manifest: .*my-image_v1\.0\.manifest\.xml/);
    const { manifest } = parseManifest(await readFile(join(out, 'my-image_v1.0.manifest.xml')));
    assert.equal(manifest.image.name, 'my-image_v1.0');
    assert.equal(manifest.image.user, '123456789012');
    assert.equal(manifest.machineConfiguration?.kernelId, 'aki-11111111');
    assert.equal(manifest.machineConfiguration?.ramdiskId, 'ari-22222222');
    assert.deepEqual(manifest.machineConfiguration?.productCodes, ['ABCD1234', 'EFGH5678']);
    assert.deepEqual(manifest.machineConfiguration?.blockDeviceMapping?.map((m) => m.virtual), ['ami', 'ephemeral0', 'root']);
    assert.equal(manifest.image.ec2EncryptedKey.length, 512, 'wrapped for the 2048-bit cn-north-1 certificate');
    const v = await bundlefarm(['verify', '-m', join(out, 'my-image_v1.0.manifest.xml'), '-c', s.cert]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /bundle OK/);
    const back = join(s.dir, 'back');
    const u = await bundlefarm(['unbundle', '-m', join(out, 'my-image_v1.0.manifest.xml'), '-k', s.key, '-d', back]);
    assert.equal(u.code, 0, u.stderr);
    assert.ok((await readFile(join(back, 'my-image_v1.0'))).equals(await readFile(s.image)));
  });

  it('writes parts past the page cache by default, and through it with --no-direct-io', { skip: needsNative() || needsTools(['fincore'], 'apt-get install util-linux') }, async () => {
    const s = await setup();
    const image = join(s.dir, 'random.img');
    await writeRandomFile(image, 12 * 1024 * 1024, 7); // does not compress: two parts, the first a full 10 MiB
    const cached = async (dest: string): Promise<number> => {
      const { stdout } = await execFileAsync('fincore', ['--bytes', '--noheadings', '--output', 'RES', join(dest, 'random.img.part.0')]);
      return Number(stdout.trim());
    };
    const direct = join(s.dir, 'direct');
    const d = await bundlefarm(base({ ...s, image }, direct));
    assert.equal(d.code, 0, d.stderr);
    assert.equal(await cached(direct), 0, 'part 0 was written with O_DIRECT');
    const buffered = join(s.dir, 'buffered');
    const b = await bundlefarm([...base({ ...s, image }, buffered), '--no-direct-io']);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(await cached(buffered), 10 * 1024 * 1024, 'part 0 went through the page cache');
    for (const dest of [direct, buffered]) {
      const back = join(dest, 'back');
      const u = await bundlefarm(['unbundle', '-m', join(dest, 'random.img.manifest.xml'), '-k', s.key, '-d', back]);
      assert.equal(u.code, 0, u.stderr);
      assert.ok((await readFile(join(back, 'random.img'))).equals(await readFile(image)));
    }
  });

  it('works without the native addon (BUNDLEFARM_NATIVE=off): zlib pieces, node:crypto, read-based hole scan, buffered writes', async () => {
    const s = await setup();
    const sparse = join(s.dir, 'sparse.img');
    await writeFile(sparse, '');
    await truncate(sparse, 300 * 1024 * 1024);
    const h = await open(sparse, 'r+');
    await h.write(textLike(2 * 1024 * 1024), 0, 2 * 1024 * 1024, 100 * 1024 * 1024);
    await h.close();
    const out = join(s.dir, 'zlib-out');
    const env = { BUNDLEFARM_NATIVE: 'off' };
    const r = await bundlefarm([...base({ ...s, image: sparse }, out), '--debug'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /zlib/);
    assert.match(r.stderr, /backends: deflate: zlib, aes: node:crypto, holes: read scan, part writes: buffered/);
    assert.match(r.stderr, /part writes: 0 with O_DIRECT, [1-9]\d* buffered/);
    const back = join(s.dir, 'zlib-back');
    const u = await bundlefarm(['unbundle', '-m', join(out, 'sparse.img.manifest.xml'), '-k', s.key, '-d', back], { env });
    assert.equal(u.code, 0, u.stderr);
    assert.ok((await readFile(join(back, 'sparse.img'))).equals(await readFile(sparse)));
  });

  it('takes what ec2-bundle-image scripts pass: --batch, and no -d (then /tmp, as ec2-bundle-image)', async () => {
    const s = await setup();
    const name = `bf-cli-default-dest-${process.pid}-${Date.now()}`;
    const args = base(s, 'unused').filter((a, i, all) => a !== '-d' && all[i - 1] !== '-d');
    try {
      const r = await bundlefarm([...args, '-p', name, '--batch']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(existsSync(join('/tmp', `${name}.manifest.xml`)), 'manifest in /tmp');
      assert.ok(existsSync(join('/tmp', `${name}.part.0`)), 'parts in /tmp');
    } finally {
      for (const f of await readdir('/tmp')) if (f.startsWith(`${name}.`)) await rm(join('/tmp', f), { force: true });
    }
  });

  it('unbundles the ec2-ami-tools fixture (-s source dir)', async () => {
    const dir = await tempDir();
    const r = await bundlefarm(['unbundle', '-m', join(SMALL, 'small.img.manifest.xml'), '-k', join(SMALL, 'user-key.pem'), '-s', SMALL, '-d', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readFile(join(dir, 'small.img'))).equals(await readFile(join(SMALL, 'small.img'))));
  });

  it('names every bad input with its error code on one line', async () => {
    const s = await setup();
    const out = join(s.dir, 'never');
    const big = join(s.dir, 'big.img');
    await writeFile(big, '');
    await truncate(big, 10 * 1024 ** 3 + 1);
    const empty = join(s.dir, 'empty.img');
    await writeFile(empty, '');
    const other = generateSelfSignedIdentity({ bits: 1024 });
    await writeFile(join(s.dir, 'other-cert.pem'), other.certificatePem);
    await writeFile(join(s.dir, 'truncated.pem'), (await readFile(s.key, 'utf8')).slice(0, 300));
    const enc = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' });
    await writeFile(join(s.dir, 'enc.pem'), enc);
    const cases: Array<[string, string[], string, RegExp?]> = [
      ['over 10 GiB', [...base({ ...s, image: big }, out)], 'BF_IMAGE_TOO_LARGE', /10737418241 bytes/],
      ['empty image', [...base({ ...s, image: empty }, out)], 'BF_IMAGE_EMPTY'],
      ['missing image', [...base({ ...s, image: join(s.dir, 'nope.img') }, out)], 'BF_FILE_UNREADABLE', /ENOENT/],
      ['image is a directory', [...base({ ...s, image: s.dir }, out)], 'BF_FILE_UNREADABLE'],
      ['bad account', [...base(s, out), '-u', '12345'], 'BF_BAD_ACCOUNT', /"12345"/],
      ['bad architecture', [...base(s, out), '-r', 'sparc'], 'BF_BAD_ARCH', /sparc/],
      ['unknown region', [...base(s, out), '--region', 'mars-east-1'], 'BF_UNKNOWN_REGION', /mars-east-1/],
      ['bad kernel id', [...base(s, out), '--kernel', 'ami-1'], 'BF_BAD_OPTION', /--kernel/],
      ['bad mapping', [...base(s, out), '-B', 'root'], 'BF_BAD_OPTION', /block device mapping/],
      ['bad level', [...base(s, out), '--level', '12'], 'BF_BAD_OPTION', /--level/],
      ['bad name', [...base(s, out), '-p', 'a/b'], 'BF_BAD_NAME'],
      // unbundle refuses to write an image as a hidden file: bundle must not make such a bundle
      ['hidden name', [...base(s, out), '-p', '.bashrc'], 'BF_BAD_NAME', /starts with "\."/],
      ['cert of another key', [...base({ ...s, cert: join(s.dir, 'other-cert.pem') }, out)], 'BF_CERT_KEY_MISMATCH'],
      ['truncated key', [...base({ ...s, key: join(s.dir, 'truncated.pem') }, out)], 'BF_BAD_KEY', /truncated/],
      ['encrypted key', [...base({ ...s, key: join(s.dir, 'enc.pem') }, out)], 'BF_BAD_KEY', /encrypted/],
      ['unreadable key', [...base({ ...s, key: join(s.dir, 'nokey.pem') }, out)], 'BF_FILE_UNREADABLE'],
      ['malformed manifest', ['verify', '-m', s.key], 'BF_MANIFEST_MALFORMED'],
    ];
    for (const [what, args, code, pattern] of cases) {
      const r = await bundlefarm(args);
      assertOneLineError(r, code, pattern);
      assert.ok(!existsSync(out), `${what}: nothing written`);
    }
  });

  it('names the tampered part, the missing part and a wrong key', async () => {
    const s = await setup();
    const out = join(s.dir, 'out');
    await writeRandomFile(s.image, 31 * 1024 * 1024, 3);
    assert.equal((await bundlefarm(base(s, out))).code, 0);
    const manifest = join(out, 'root.img.manifest.xml');
    const other = generateSelfSignedIdentity();
    await writeFile(join(s.dir, 'other-key.pem'), other.privateKeyPem);
    assertOneLineError(await bundlefarm(['unbundle', '-m', manifest, '-k', join(s.dir, 'other-key.pem'), '-d', join(s.dir, 'x')]), 'BF_WRONG_KEY');
    const part = join(out, 'root.img.part.2');
    const bytes = await readFile(part);
    bytes[100] = bytes[100]! ^ 1;
    await writeFile(part, bytes);
    assertOneLineError(await bundlefarm(['verify', '-m', manifest]), 'BF_PART_TAMPERED', /part 2 \(root\.img\.part\.2\)/);
    assertOneLineError(await bundlefarm(['unbundle', '-m', manifest, '-k', s.key, '-d', join(s.dir, 'y')]), 'BF_PART_TAMPERED', /part 2/);
    await rm(join(out, 'root.img.part.1'));
    assertOneLineError(await bundlefarm(['verify', '-m', manifest]), 'BF_PART_MISSING', /part 1 \(root\.img\.part\.1\)/);
    const other2 = await bundlefarm(['verify', '-m', manifest, '-c', join(SMALL, 'user-cert.pem')]);
    assertOneLineError(other2, 'BF_SIGNATURE_INVALID');
    const dbg = await bundlefarm(['--debug', 'verify', '-m', manifest]);
    assert.equal(dbg.code, 1);
    assert.match(dbg.stderr, /\n\s+at /, '--debug prints the stack');
  });

  it('leaves neither manifest nor parts when interrupted mid-bundle', async () => {
    const s = await setup();
    await writeRandomFile(s.image, 600 * 1024 * 1024, 5);
    const out = join(s.dir, 'out');
    const child = spawn(BIN, ['--quiet', ...base(s, out), '--threads', '1', '--level', '9'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // wait until the first part has been written, then interrupt
    for (let i = 0; i < 600; i++) {
      const names = existsSync(out) ? await readdir(out) : [];
      if (names.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    const code = await exited;
    assert.notEqual(code, 0);
    assert.ok(!existsSync(out), 'no manifest, no part, no temporary file, and not the -d directory it created either');
  });

  it('a reader of its output that went away (`| head -1`) does not make it crash: the bundle is made, exit 0', async () => {
    const s = await setup();
    const out = join(s.dir, 'piped');
    const child = spawn(BIN, base(s, out), { stdio: ['ignore', 'pipe', 'pipe'] });
    // nobody reads the summary: its write fails with EPIPE
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|internal error|Unhandled/);
    assert.ok(existsSync(join(out, 'root.img.manifest.xml')));
  });

  it('demo bundles, verifies and unbundles a sample and says where everything is', async () => {
    const dir = await tempDir();
    const r = await bundlefarm(['demo', '--dir', dir, '--size', '8']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /identical to the image/);
    for (const f of ['user-key.pem', 'user-cert.pem', 'sample.img', 'bundle/sample.img.manifest.xml', 'unbundled/sample.img']) {
      assert.ok(existsSync(join(dir, f)), f);
      assert.ok(r.stdout.includes(join(dir, f.split('/')[0]!)), `${f} mentioned`);
    }
  });
});

describe('bundlefarm CLI: messages users found unclear, one line each (issue 14)', () => {
  it('a missing part names the directory it was looked for in; an existing image file names --overwrite', async () => {
    const s = await setup();
    const out = join(s.dir, 'out');
    assert.equal((await bundlefarm(base(s, out))).code, 0);
    const manifest = join(out, 'root.img.manifest.xml');
    const dest = join(s.dir, 'restored');
    assert.equal((await bundlefarm(['unbundle', '-m', manifest, '-k', s.key, '-d', dest])).code, 0);
    assertOneLineError(
      await bundlefarm(['unbundle', '-m', manifest, '-k', s.key, '-d', dest]),
      'BF_DESTINATION_EXISTS',
      new RegExp(`^bundlefarm: BF_DESTINATION_EXISTS: ${join(dest, 'root.img')} already exists; refusing to overwrite it \\(give --overwrite to replace it\\)$`),
    );
    await rm(join(out, 'root.img.part.0'));
    assertOneLineError(await bundlefarm(['verify', '-m', manifest]), 'BF_PART_MISSING', new RegExp(`: part 0 \\(root\\.img\\.part\\.0\\) is missing from ${out}$`));
  });

  it('a failed unbundle does not leave the empty -d directory it created behind (a directory that existed stays)', async () => {
    const s = await setup();
    const out = join(s.dir, 'out');
    assert.equal((await bundlefarm(base(s, out))).code, 0);
    const manifest = join(out, 'root.img.manifest.xml');
    await rm(join(out, 'root.img.part.0'));
    const fresh = join(s.dir, 'new', 'deeper');
    assertOneLineError(await bundlefarm(['unbundle', '-m', manifest, '-k', s.key, '-d', fresh]), 'BF_PART_MISSING');
    assert.ok(!existsSync(join(s.dir, 'new')), 'the directories it made are gone');
    const existing = join(s.dir, 'existing');
    await mkdir(existing);
    assertOneLineError(await bundlefarm(['unbundle', '-m', manifest, '-k', s.key, '-d', existing]), 'BF_PART_MISSING');
    assert.ok(existsSync(existing), 'a directory that was there stays');
  });

  it('a directory it may not write is named, never the hidden temporary file', async (t) => {
    // sysfs refuses new files even to root: a destination that exists and cannot be written
    const probe = await open('/sys/.bundlefarm-probe', 'wx').then(
      async (h) => {
        await h.close();
        return 'writable';
      },
      (err: NodeJS.ErrnoException) => err.code,
    );
    if (probe !== 'EACCES' && probe !== 'EROFS' && probe !== 'EPERM') {
      t.skip(`/sys is not an unwritable directory here (${probe})`);
      return;
    }
    const s = await setup();
    const b = await bundlefarm(base(s, '/sys'));
    assertOneLineError(b, 'BF_FILE_UNWRITABLE', new RegExp(`: cannot write /sys: ${probe}`));
    const out = join(s.dir, 'out');
    assert.equal((await bundlefarm(base(s, out))).code, 0);
    const u = await bundlefarm(['unbundle', '-m', join(out, 'root.img.manifest.xml'), '-k', s.key, '-d', '/sys']);
    assertOneLineError(u, 'BF_FILE_UNWRITABLE', new RegExp(`: cannot write /sys/root\\.img: ${probe}`));
    for (const r of [b, u]) assert.doesNotMatch(r.stderr, /\.tmp|\/\./, 'no temporary name');
  });

  it('an EC key is "an EC key"; a bad name from the image file says -p NAME', async () => {
    const s = await setup();
    const out = join(s.dir, 'never');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    await writeFile(join(s.dir, 'ec.pem'), ec);
    assertOneLineError(await bundlefarm(base({ ...s, key: join(s.dir, 'ec.pem') }, out)), 'BF_BAD_KEY', /: it is an EC key; bundles need an RSA key$/);
    const odd = join(s.dir, 'my image.img');
    await writeFile(odd, Buffer.alloc(4096, 1));
    assertOneLineError(
      await bundlefarm(base({ ...s, image: odd }, out)),
      'BF_BAD_NAME',
      /^bundlefarm: BF_BAD_NAME: bundle name "my image\.img" is not usable: .*; it is the image's file name: give a bundle name with -p NAME$/,
    );
    assert.ok(!existsSync(out));
  });

  it('an empty BUNDLEFARM_API_TOKEN is named as the thing to set', async () => {
    for (const [env, why] of [
      [{ BUNDLEFARM_API_TOKEN: '' }, '\\$BUNDLEFARM_API_TOKEN is empty'],
      [{ BUNDLEFARM_API_TOKEN: undefined }, '\\$BUNDLEFARM_API_TOKEN is not set'],
    ] as const) {
      const r = await bundlefarm(['list'], { env: { BUNDLEFARM_API_URL: 'http://127.0.0.1:9', ...env } });
      assertOneLineError(r, 'BF_BAD_OPTION', new RegExp(`--token: no API token: ${why}; set \\$BUNDLEFARM_API_TOKEN to your token \\(or give --token\\)$`));
    }
  });

  it('help: --region is a region (its partition picks the certificate); enqueue --help wraps to 80 columns', async () => {
    const b = await bundlefarm(['bundle', '--help']);
    const region = b.stdout.slice(b.stdout.indexOf('--region <region>'));
    assert.match(region.replace(/\s+/g, ' '), /^--region <region> region the bundle is for \(e\.g\. us-east-1, us-gov-west-1, cn-north-1; default us-east-1\): its partition's EC2 certificate is used/);
    assert.doesNotMatch(b.stdout, /\(aws,/);
    for (const command of ['enqueue', 'bundle', 'unbundle', 'list', 'logs', 'retry', 'cancel']) {
      const h = await bundlefarm([command, '--help']);
      assert.equal(h.code, 0);
      const long = h.stdout.split('\n').filter((l) => l.length > 80);
      assert.deepEqual(long, [], `${command} --help: lines over 80 columns`);
    }
  });
});

