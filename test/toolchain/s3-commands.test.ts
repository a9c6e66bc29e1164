import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ec2CertificateForPartition, ec2WrapFits, generateSelfSignedIdentity, parseManifest, parsePrivateKey, unwrapWithKey } from '@bundlefarm/format';
import { assertOneLineError, bundlefarm } from '../helpers/cli.js';
import { sha256File } from '../helpers/file-hash.js';
import { s3Requests, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { writeIdentity } from '../helpers/identity.js';
import { pseudoRandom } from '../helpers/images.js';
import { createFreshBucket, getObject, listKeys, regionClients } from '../helpers/s3-objects.js';
import { s3Calls } from '@bundlefarm/s3-local';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { needsTools } from '../helpers/requirements.js';
import { run } from '../helpers/run.js';
import { tempDir } from '../helpers/temp-dir.js';

/*
 * The S3 commands as a user runs them (real `bundlefarm` processes) against the S3 front — which checks
 * SigV4 signatures, regions, Content-MD5 and records every request and each object's ACL — with the
 * fault proxy in front of us-east-1 to cut a connection half-way. Credentials come from the environment,
 * the SDK's default chain, as on a user's machine.
 */
const SLOW = { timeout: 180_000 };
let s3: S3TestServer;
let proxy: FaultProxy;
let clients: ReturnType<typeof regionClients>;
// created at the top level: tempDir's cleanup then runs when the file ends, not after a hook
const dir = await tempDir();
const identity = await writeIdentity(dir);
/** A bundle of 3 parts (25 MiB of incompressible image) made for us-east-1. */
let bundle: { dir: string; manifest: string; name: string; image: string; parts: string[] };

const env = (): NodeJS.ProcessEnv => ({
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  AWS_SESSION_TOKEN: '',
  AWS_PROFILE: '',
  AWS_REGION: '',
  AWS_DEFAULT_REGION: '',
  AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
  AWS_EC2_METADATA_DISABLED: 'true',
});

let bundles = 0;
const cli = (args: string[]) => bundlefarm(args, { env: env() });

async function makeBundle(name: string, size: number, extra: string[] = []): Promise<{ dir: string; manifest: string; name: string; image: string; parts: string[] }> {
  const out = join(dir, `bundle-${++bundles}`);
  await mkdir(out);
  const image = join(out, name);
  await writeFile(image, pseudoRandom(size, size));
  const bundleDir = join(out, 'bundle');
  const r = await cli(['bundle', '-i', image, '-c', identity.cert, '-k', identity.key, '-u', '123456789012', '-r', 'x86_64', '-d', bundleDir, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  const manifest = join(bundleDir, `${name}.manifest.xml`);
  const { manifest: m } = parseManifest(await readFile(manifest));
  return { dir: bundleDir, manifest, name, image, parts: m.image.parts.map((p) => p.filename) };
}

before(async () => {
  s3 = await startS3Server({ regions: ['eu-west-1'] });
  proxy = await startFaultProxy({ target: s3.endpoint });
  clients = regionClients(s3);
  bundle = await makeBundle('web.img', 25 * 1024 * 1024);
  assert.equal(bundle.parts.length, 3);
});

after(async () => {
  clients?.destroy();
  await proxy?.close();
  await s3?.stop();
});

describe('bundlefarm upload', () => {
  it('a connection cut half-way fails the upload without a manifest; again, only the missing parts go up, and the bundle downloads and unbundles to the image', SLOW, async () => {
    const bucket = await createFreshBucket(s3, 'up');
    const partPath = `/${bucket}/amis/web/${bundle.parts[1]}`;
    proxy.addFault({ action: { type: 'drop-request', afterBytes: 1024 * 1024 }, match: (r) => r.method === 'PUT' && r.path === partPath });
    const args = ['upload', '-b', `${bucket}/amis/web`, '-m', bundle.manifest, '--endpoint', proxy.endpoint, '--path-style', '--retry', '2'];
    const first = await cli(args);
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /^bundlefarm: BF_S3_UNAVAILABLE: .*PutObject/m);
    assert.ok(proxy.requests.some((r) => r.path === partPath && r.outcome === 'dropped-request'), 'the connection was cut during the part');
    const landed = await listKeys(clients.clientFor('us-east-1'), bucket);
    assert.ok(!landed.includes('amis/web/web.img.manifest.xml'), 'no manifest while a part is missing');
    assert.ok(!landed.includes(`amis/web/${bundle.parts[1]}`));

    proxy.clearFaults();
    proxy.resetRecords();
    const second = await cli([...args, '--json']);
    assert.equal(second.code, 0, second.stderr);
    const result = JSON.parse(second.stdout) as { uploaded: string[]; skipped: string[]; manifest: string };
    const missing = bundle.parts.filter((p) => !landed.includes(`amis/web/${p}`)).map((p) => `amis/web/${p}`);
    assert.deepEqual(result.uploaded, missing);
    assert.deepEqual(result.skipped, landed);
    const puts = proxy.requests.filter((r) => s3Requests.putObject(r) && !r.query.has('acl'));
    assert.deepEqual(
      puts.map((r) => r.path).sort(),
      [...missing, 'amis/web/web.img.manifest.xml'].map((k) => `/${bucket}/${k}`).sort(),
      'only the missing parts and the manifest are sent',
    );
    assert.equal(puts.at(-1)!.path, `/${bucket}/amis/web/web.img.manifest.xml`, 'manifest last');
    for (const r of puts) assert.equal(r.headers['content-md5'], r.bodyMd5, 'Content-MD5 on every PUT');
    for (const key of [...bundle.parts.map((p) => `amis/web/${p}`), 'amis/web/web.img.manifest.xml']) {
      assert.equal(s3.front.objectAcl(bucket, key)?.acl, 'aws-exec-read', key);
    }
    // the human summary says what was skipped
    const third = await cli(args);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /uploaded: 0 parts/);
    assert.match(third.stdout, /skipped: {2}3 parts already in the bucket/);

    const down = await tempDir();
    const d = await cli(['download', '-b', `${bucket}/amis/web`, '-p', 'web.img', '-d', down, '-k', identity.key, '-c', identity.cert, '--endpoint', s3.endpoint, '--path-style']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /every SHA-1 matches/);
    assert.equal(await sha256File(join(down, 'web.img')), await sha256File(bundle.image), 'the image comes back');
  });

  it('a bucket in another region than --region: the migrate-manifest hint, before any PUT', async () => {
    const bucket = await createFreshBucket(s3, 'eu', { region: 'eu-west-1' });
    s3.requests.clear();
    const r = await cli(['upload', '-b', bucket, '-m', bundle.manifest, '--region', 'us-east-1', '--endpoint', s3.endpointFor('eu-west-1'), '--path-style']);
    assertOneLineError(r, 'BF_BUNDLE_REGION_MISMATCH', /is in eu-west-1: not in us-east-1 \(--region\).*bundlefarm migrate-manifest -m .* --region eu-west-1/);
    assert.deepEqual(s3.requests.filter((q) => q.bucket === bucket).map((q) => q.operation), ['GetBucketLocation'], 'nothing but the location was asked');
  });

  it('a manifest bundled for another partition (cn-north-1) into a us-east-1 bucket: the migrate-manifest hint, before any PUT', async () => {
    const cn = await makeBundle('cn.img', 64 * 1024, ['--region', 'cn-north-1']);
    const bucket = await createFreshBucket(s3, 'cnup');
    s3.requests.clear();
    const r = await cli(['upload', '-b', bucket, '-m', cn.manifest, '--endpoint', s3.endpoint, '--path-style']);
    assertOneLineError(r, 'BF_BUNDLE_REGION_MISMATCH', /bundled for another partition .*2048-bit.*1024-bit.*migrate-manifest .* --region us-east-1/);
    assert.equal(s3.requests.filter((q) => q.bucket === bucket && q.method === 'PUT').length, 0);
  });
});

describe('bundlefarm upload: what is already there', () => {
  it('another bundle of the same name is not overwritten unless --replace; -a/-s work and are warned about', SLOW, async () => {
    const bucket = await createFreshBucket(s3, 'same');
    const other = await makeBundle('web.img', 3 * 1024 * 1024 + 5);
    const first = await cli(['upload', '-b', bucket, '-m', other.manifest, '--endpoint', s3.endpoint, '--path-style']);
    assert.equal(first.code, 0, first.stderr);
    s3.requests.clear();
    const args = ['upload', '-b', bucket, '-m', bundle.manifest, '--endpoint', s3.endpoint, '--path-style'];
    assertOneLineError(await cli(args), 'BF_BUNDLE_EXISTS', new RegExp(`s3://${bucket}/web\\.img\\.manifest\\.xml`));
    assert.equal(s3.requests.filter((q) => s3Calls.write(q) || s3Calls.delete(q)).length, 0, 'nothing written or deleted');

    const keys = { ...env(), AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' };
    const replaced = await bundlefarm([...args, '--replace', '-a', S3RVER_CREDENTIALS.accessKeyId, '-s', S3RVER_CREDENTIALS.secretAccessKey], { env: keys });
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stderr, /warning: -a\/-s put credentials in the process list/);
    assert.match(replaced.stdout, /replaced: the manifest of another bundle/);
    const down = await tempDir();
    const d = await cli(['download', '-b', bucket, '-p', 'web.img', '-d', down, '-k', identity.key, '--endpoint', s3.endpoint, '--path-style']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(await sha256File(join(down, 'web.img')), await sha256File(bundle.image));
  });
});

describe('bundlefarm upload --part, --skipmanifest', () => {
  it('--part N sends part N on; --skipmanifest leaves the manifest out', async () => {
    const bucket = await createFreshBucket(s3, 'part');
    const r = await cli(['upload', '-b', bucket, '-m', bundle.manifest, '--part', '2', '--skipmanifest', '--endpoint', s3.endpoint, '--path-style']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await listKeys(clients.clientFor('us-east-1'), bucket), [bundle.parts[2]]);
    assert.match(r.stdout, /manifest: not uploaded \(--skipmanifest\)/);
    assertOneLineError(await cli(['upload', '-b', bucket, '-m', bundle.manifest, '--part', '3', '--endpoint', s3.endpoint, '--path-style']), 'BF_BAD_OPTION', /--part: 3 is not a part index of this bundle \(0 to 2\)/);
  });
});

describe('bundlefarm download', () => {
  it('a tampered part fails naming the part, and no manifest is written', async () => {
    const bucket = await createFreshBucket(s3, 'dl');
    const up = await cli(['upload', '-b', bucket, '-m', bundle.manifest, '--endpoint', s3.endpoint, '--path-style']);
    assert.equal(up.code, 0, up.stderr);
    const client = clients.clientFor('us-east-1');
    const key = bundle.parts[2]!;
    const bytes = await getObject(client, bucket, key);
    bytes[100]! ^= 0xff;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    const down = await tempDir();
    const r = await cli(['download', '-b', bucket, '-p', 'web.img', '-d', down, '--endpoint', s3.endpoint, '--path-style']);
    assertOneLineError(r, 'BF_PART_TAMPERED', new RegExp(`part 2 \\(${key.replace(/\./g, '\\.')}\\) is corrupt or tampered`));
    await assert.rejects(readFile(join(down, 'web.img.manifest.xml')), { code: 'ENOENT' });
  });
});

describe('bundlefarm delete-bundle', () => {
  it('deletes exactly the manifest and its parts; --dry-run deletes nothing; a foreign object under the prefix stays; no -y without a terminal is refused', async () => {
    const bucket = await createFreshBucket(s3, 'del');
    const up = await cli(['upload', '-b', `${bucket}/x`, '-m', bundle.manifest, '--endpoint', s3.endpoint, '--path-style']);
    assert.equal(up.code, 0, up.stderr);
    const client = clients.clientFor('us-east-1');
    for (const foreign of ['x/web.img.part.3', 'x/web.img.notes', 'x/other.manifest.xml']) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: foreign, Body: 'not the bundle’s' }));
    }
    const before = await listKeys(client, bucket);
    s3.requests.clear();
    const base = ['delete-bundle', '-b', `${bucket}/x`, '-p', 'web.img', '--endpoint', s3.endpoint, '--path-style'];
    const dry = await cli([...base, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout.split('\n').filter((l) => l.startsWith('would delete')).length, 4);
    assert.deepEqual(s3.requests.deletedKeys(bucket), [], 'the dry run deleted nothing');
    assertOneLineError(await cli(base), 'BF_NOT_CONFIRMED', /pass -y/);
    assert.deepEqual(await listKeys(client, bucket), before);

    // a manifest is input: one listing a foreign object as a part gets nothing deleted
    const crafted = join(await tempDir(), 'web.img.manifest.xml');
    await writeFile(crafted, (await readFile(bundle.manifest, 'utf8')).replace(`<filename>${bundle.parts[1]}</filename>`, '<filename>other.manifest.xml</filename>'));
    assertOneLineError(
      await cli(['delete-bundle', '-b', `${bucket}/x`, '-m', crafted, '-y', '--endpoint', s3.endpoint, '--path-style']),
      'BF_MANIFEST_MALFORMED',
      /part 1 is named "other\.manifest\.xml"/,
    );
    assert.deepEqual(s3.requests.deletedKeys(bucket), []);

    const r = await cli([...base, '-y', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const bundleKeys = ['x/web.img.manifest.xml', ...bundle.parts.map((p) => `x/${p}`)];
    assert.deepEqual(new Set(s3.requests.deletedKeys(bucket)), new Set(bundleKeys));
    assert.equal(s3.requests.deletedKeys(bucket)[0], 'x/web.img.manifest.xml', 'the manifest goes first');
    assert.deepEqual(await listKeys(client, bucket), ['x/other.manifest.xml', 'x/web.img.notes', 'x/web.img.part.3']);
  });
});

describe('bundlefarm migrate-manifest and migrate-bundle', () => {
  it('the migrated manifest verifies with the user certificate, its EC2 key is wrapped for the target partition', async () => {
    const work = await tempDir();
    const out = join(bundle.dir, 'cn.manifest.xml');
    const r = await cli(['migrate-manifest', '-m', bundle.manifest, '-k', identity.key, '-c', identity.cert, '--region', 'cn-north-1', '--kernel', 'aki-0a1b2c3d', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const v = await cli(['verify', '-m', out, '-c', identity.cert]);
    assert.equal(v.code, 0, v.stderr);
    const { manifest } = parseManifest(await readFile(out));
    const { manifest: original } = parseManifest(await readFile(bundle.manifest));
    assert.equal(manifest.machineConfiguration?.kernelId, 'aki-0a1b2c3d');
    assert.deepEqual(manifest.image.parts, original.image.parts);
    assert.equal(manifest.image.userEncryptedKey, original.image.userEncryptedKey);
    assert.equal(ec2WrapFits(manifest, ec2CertificateForPartition('aws-cn').publicKey).fits, true);
    assert.equal(ec2WrapFits(manifest, ec2CertificateForPartition('aws').publicKey).fits, false);

    // with an EC2 certificate whose key the test holds, the wrapped key is seen to be the bundle's own
    const ec2 = generateSelfSignedIdentity({ commonName: 'stand-in EC2' });
    await writeFile(join(work, 'ec2-cert.pem'), ec2.certificatePem);
    const out2 = join(work, 'own-ec2.manifest.xml');
    const r2 = await cli(['migrate-manifest', '-m', bundle.manifest, '-k', identity.key, '-c', identity.cert, '--region', 'eu-west-1', '--ec2cert', join(work, 'ec2-cert.pem'), '-o', out2]);
    assert.equal(r2.code, 0, r2.stderr);
    const m2 = parseManifest(await readFile(out2)).manifest;
    const user = parsePrivateKey(await readFile(identity.key), identity.key);
    const ec2Key = parsePrivateKey(ec2.privateKeyPem, 'stand-in EC2 key');
    assert.deepEqual(unwrapWithKey(m2.image.ec2EncryptedKey, ec2Key, 'key'), unwrapWithKey(m2.image.userEncryptedKey, user, 'key'));
    assert.deepEqual(unwrapWithKey(m2.image.ec2EncryptedIv, ec2Key, 'IV'), unwrapWithKey(m2.image.userEncryptedIv, user, 'IV'));

    // a changed manifest is not signed again
    const tampered = join(work, 'tampered.manifest.xml');
    await writeFile(tampered, (await readFile(bundle.manifest, 'utf8')).replace('<architecture>x86_64', '<architecture>i386'));
    assertOneLineError(
      await cli(['migrate-manifest', '-m', tampered, '-k', identity.key, '-c', identity.cert, '--region', 'cn-north-1', '-o', join(work, 'never.xml')]),
      'BF_SIGNATURE_INVALID',
    );
  });

  it('Amazon’s own checks (Ruby REXML + OpenSSL, as ec2-migrate-manifest and ec2-unbundle run them) accept the migrated manifest', { skip: needsTools(['ruby'], 'apt-get install ruby') }, async () => {
    const work = await tempDir();
    const out = join(work, 'web.img.manifest.xml');
    await copyFile(bundle.manifest, out);
    // in place, as ec2-migrate-manifest: the original kept as .bak
    const r = await cli(['migrate-manifest', '-m', out, '-k', identity.key, '-c', identity.cert, '--region', 'us-gov-west-1', '--ramdisk', 'ari-1a2b3c4d']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readFile(`${out}.bak`), await readFile(bundle.manifest));
    assert.equal(parseManifest(await readFile(out)).manifest.machineConfiguration?.ramdiskId, 'ari-1a2b3c4d');
    const check = await run('ruby', [fileURLToPath(new URL('../compat/ec2-ami-tools-check.rb', import.meta.url)), out, identity.cert, identity.key]);
    assert.equal(check.code, 0, check.stderr);
    const result = JSON.parse(check.stdout) as { reserialized_identical: boolean; authenticated: boolean; user_encrypted_key: string };
    assert.equal(result.reserialized_identical, true, 'already in REXML form');
    assert.equal(result.authenticated, true);
    const user = parsePrivateKey(await readFile(identity.key), identity.key);
    assert.equal(result.user_encrypted_key, unwrapWithKey(parseManifest(await readFile(out)).manifest.image.userEncryptedKey, user, 'key').toString('hex'));
  });

  it('migrate-bundle lands a complete bundle in the other region’s bucket (CopyObject with the ACL), and again copies nothing', SLOW, async () => {
    const source = await createFreshBucket(s3, 'src');
    const target = await createFreshBucket(s3, 'dst', { region: 'eu-west-1' });
    const up = await cli(['upload', '-b', `${source}/a`, '-m', bundle.manifest, '--endpoint', s3.endpoint, '--path-style']);
    assert.equal(up.code, 0, up.stderr);
    s3.requests.clear();
    const args = [
      'migrate-bundle', '-b', `${source}/a`, '-p', 'web.img', '-d', `${target}/b`, '--region', 'eu-west-1', '-k', identity.key, '-c', identity.cert,
      '--endpoint', s3.endpointFor('eu-west-1'), '--source-endpoint', s3.endpoint, '--path-style',
    ];
    const r = await cli(args);
    assert.equal(r.code, 0, r.stderr);
    const copies = s3.requests.filter((q) => q.operation === 'CopyObject');
    assert.deepEqual(copies.map((q) => q.key).sort(), bundle.parts.map((p) => `b/${p}`).sort());
    assert.ok(copies.every((q) => q.acl === 'aws-exec-read' && q.status === 200));
    const eu = clients.clientFor('eu-west-1');
    assert.deepEqual(await listKeys(eu, target), ['b/web.img.manifest.xml', ...bundle.parts.map((p) => `b/${p}`)].sort());
    assert.equal(s3.front.objectAcl(target, 'b/web.img.manifest.xml')?.acl, 'aws-exec-read');

    const down = await tempDir();
    const d = await cli(['download', '-b', `${target}/b`, '-p', 'web.img', '-d', down, '-k', identity.key, '-c', identity.cert, '--endpoint', s3.endpointFor('eu-west-1'), '--path-style']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(await sha256File(join(down, 'web.img')), await sha256File(bundle.image));

    s3.requests.clear();
    const again = await cli([...args, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { skipped: string[] }).skipped.length, 3);
    assert.equal(s3.requests.filter((q) => q.operation === 'CopyObject').length, 0, 'resumed: nothing copied again');
  });
});
