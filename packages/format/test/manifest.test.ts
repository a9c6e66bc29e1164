import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ManifestMalformedError, SignatureInvalidError } from '@bundlefarm/errors';
import {
  buildSignedManifest,
  ec2CertificateForRegion,
  generateBundleSecret,
  generateSelfSignedIdentity,
  parseCertificate,
  parseManifest,
  partCount,
  partName,
  serializeManifest,
  signedContent,
  unwrapWithKey,
  verifyManifestText,
  parsePrivateKey,
} from '@bundlefarm/format';
import { FIXTURES, SMALL } from '@bundlefarm/testkit/fixtures.js';

const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

describe('manifest parse and serialize', () => {
  it('re-serializes ec2-ami-tools manifests byte for byte (REXML form)', () => {
    for (const file of ['small/small.img.manifest.xml', 'ec2-ami-tools-full.manifest.xml']) {
      const { manifest, xml } = parseManifest(fixture(file));
      assert.equal(serializeManifest(manifest), xml, file);
    }
  });

  it('reads every field of the full ec2-ami-tools manifest', () => {
    const { manifest } = parseManifest(fixture('ec2-ami-tools-full.manifest.xml'));
    assert.equal(manifest.version, '2007-10-10');
    assert.deepEqual(manifest.bundler, { name: 'ec2-ami-tools', version: '1.5', release: '3' });
    assert.deepEqual(manifest.machineConfiguration, {
      architecture: 'i386',
      blockDeviceMapping: [
        { virtual: 'ami', device: 'sda1' },
        { virtual: 'ephemeral0', device: 'sda2' },
        { virtual: 'root', device: '/dev/sda1' },
        { virtual: 'swap', device: 'sda3' },
      ],
      kernelId: 'aki-11111111',
      ramdiskId: 'ari-22222222',
      productCodes: ['ABCD1234,EFGH5678'],
    });
    const img = manifest.image;
    assert.equal(img.name, 'my-image_v1.0');
    assert.equal(img.user, '123456789012');
    assert.equal(img.size, 31457280);
    assert.equal(img.bundledSize, 26225280);
    assert.deepEqual(
      img.parts.map((p) => p.filename),
      ['my-image_v1.0.part.0', 'my-image_v1.0.part.1', 'my-image_v1.0.part.2'],
    );
  });

  it("reads euca2ools' double-quoted manifests and verifies their signature over the file's own bytes", () => {
    const { manifest, xml } = parseManifest(fixture('euca2ools-sample.manifest.xml'));
    assert.equal(manifest.bundler.name, 'euca2ools');
    assert.equal(manifest.image.parts.length, 3);
    assert.equal(manifest.image.parts[2]!.filename, 'eimg.part.02');
    assert.ok(signedContent(xml).startsWith('<machine_configuration><architecture>x86_64'));
  });

  it('verifies the signature of the real ec2-ami-tools bundle with its certificate, and detects a change', () => {
    const xml = fixture('small/small.img.manifest.xml');
    const { manifest } = parseManifest(xml);
    const cert = parseCertificate(readFileSync(join(SMALL, 'user-cert.pem')), 'user-cert.pem');
    verifyManifestText(xml, manifest.signature, cert.publicKey, cert.source);
    const changed = xml.replace('<architecture>x86_64', '<architecture>i386');
    assert.throws(() => verifyManifestText(changed, manifest.signature, cert.publicKey, cert.source), SignatureInvalidError);
    // a signature of the wrong length is named as such
    assert.throws(
      () => verifyManifestText(xml, manifest.signature!.slice(2), cert.publicKey, cert.source),
      (e: unknown) => e instanceof SignatureInvalidError && /255 bytes/.test(String((e).details.reason)),
    );
  });

  it('escapes text as REXML does and omits absent optional elements', () => {
    const id = generateSelfSignedIdentity(); // signing needs 2048 bits (BF_WEAK_KEY)
    const { xml, manifest } = buildSignedManifest(
      { name: "a&b<c>'d\"", accountId: '123456789012', architecture: 'x86_64' },
      { digest: 'ab'.repeat(20), size: 1, bundledSize: 32, parts: [{ index: 0, filename: 'x.part.0', digest: 'cd'.repeat(20) }] },
      generateBundleSecret(),
      id,
      ec2CertificateForRegion('us-east-1'),
    );
    assert.ok(xml.includes('<name>a&amp;b&lt;c&gt;&apos;d&quot;</name>'));
    assert.ok(xml.startsWith("<?xml version='1.0'?><manifest><version>2007-10-10</version><bundler><name>bundlefarm</name>"));
    assert.ok(!xml.includes('kernel_id') && !xml.includes('block_device_mapping') && !xml.includes('product_codes'));
    assert.ok(!xml.endsWith('\n'));
    assert.ok(!/>\s+</.test(xml), 'no whitespace between elements');
    assert.ok(!xml.includes('"'), 'attributes single-quoted, quotes in text escaped');
    assert.equal(parseManifest(xml).manifest.image.name, manifest.image.name);
  });

  it('builds the element order of ec2-ami-tools, sorts mappings, and signs what Amazon signs', () => {
    const id = generateSelfSignedIdentity();
    const secret = generateBundleSecret();
    const { xml } = buildSignedManifest(
      {
        name: 'img',
        accountId: '123456789012',
        architecture: 'i386',
        kernelId: 'aki-11111111',
        ramdiskId: 'ari-22222222',
        blockDeviceMapping: [
          { virtual: 'swap', device: 'sda3' },
          { virtual: 'ami', device: 'sda1' },
          { virtual: 'root', device: '/dev/sda1' },
          { virtual: 'ephemeral0', device: 'sda2' },
        ],
        productCodes: ['ABCD1234'],
      },
      { digest: 'ab'.repeat(20), size: 10, bundledSize: 32, parts: [{ index: 0, filename: 'img.part.0', digest: 'cd'.repeat(20) }] },
      secret,
      id,
      ec2CertificateForRegion('us-east-1'),
    );
    const order = [...xml.matchAll(/<([a-z_]+)[ >]/g)].map((m) => m[1]);
    assert.deepEqual(order.slice(0, 13), [
      'manifest', 'version', 'bundler', 'name', 'version', 'release', 'machine_configuration', 'architecture',
      'block_device_mapping', 'mapping', 'virtual', 'device', 'mapping',
    ]);
    assert.ok(xml.includes('<kernel_id>aki-11111111</kernel_id><ramdisk_id>ari-22222222</ramdisk_id><product_codes><product_code>ABCD1234</product_code></product_codes></machine_configuration>'));
    assert.deepEqual(
      [...xml.matchAll(/<virtual>([a-z0-9]+)</g)].map((m) => m[1]),
      ['ami', 'ephemeral0', 'root', 'swap'],
    );
    assert.ok(
      xml.includes(
        "</name><user>123456789012</user><type>machine</type><digest algorithm='SHA1'>" + 'ab'.repeat(20) + "</digest><size>10</size><bundled_size>32</bundled_size><ec2_encrypted_key algorithm='AES-128-CBC'>",
      ),
    );
    assert.ok(xml.includes("<parts count='1'><part index='0'><filename>img.part.0</filename><digest algorithm='SHA1'>"));
    const parsed = parseManifest(xml);
    assert.equal(serializeManifest(parsed.manifest), xml, 'our output is in REXML form');
    verifyManifestText(xml, parsed.manifest.signature, id.certificate.publicKey, 'cert');
    // the user can unwrap key and IV; the values are the 32-char hex strings of the secret
    assert.ok(unwrapWithKey(parsed.manifest.image.userEncryptedKey, id.privateKey, 'key').equals(secret.key));
    assert.ok(unwrapWithKey(parsed.manifest.image.userEncryptedIv, id.privateKey, 'IV').equals(secret.iv));
    assert.equal(parsed.manifest.image.ec2EncryptedKey.length, 256, 'RSA-1024 EC2 certificate → 128 bytes');
  });
});

describe('part naming', () => {
  it('pads indexes to the digit count of the part count', () => {
    assert.deepEqual([0, 8].map((i) => partName('n', i, 9)), ['n.part.0', 'n.part.8']);
    assert.deepEqual([0, 9].map((i) => partName('n', i, 10)), ['n.part.00', 'n.part.09']);
    assert.deepEqual([0, 99].map((i) => partName('n', i, 100)), ['n.part.000', 'n.part.099']);
    assert.deepEqual([0, 100].map((i) => partName('n', i, 101)), ['n.part.000', 'n.part.100']);
    assert.equal(partCount(1), 1);
    assert.equal(partCount(10485760), 1);
    assert.equal(partCount(10485761), 2);
  });
});

describe('manifest refusals', () => {
  const good = fixture('small/small.img.manifest.xml');
  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['not xml', 'hello', /manifest|XML/],
    ['unclosed', good.slice(0, -20), /well-formed/],
    ['doctype', good.replace("<?xml version='1.0'?>", "<?xml version='1.0'?><!DOCTYPE manifest [<!ENTITY a 'b'>]>"), /DOCTYPE/],
    ['undefined entity', good.replace('<name>small.img</name>', '<name>&xxe;</name>'), /entity/],
    ['wrong version', good.replace('2007-10-10', '2012-01-01'), /not supported/],
    ['no image', good.replace(/<image>.*<\/image>/, ''), /no <image>/],
    ['negative size', good.replace('<size>307200</size>', '<size>-1</size>'), /byte count/],
    ['overflowing size', good.replace('<size>307200</size>', '<size>99999999999999999999</size>'), /byte count/],
    ['size over 10 GiB', good.replace('<size>307200</size>', '<size>10737418241</size>'), /10 GiB/],
    ['count mismatch', good.replace("<parts count='1'>", "<parts count='2'>"), /count='2'/],
    ['traversal', good.replace('<filename>small.img.part.0</filename>', '<filename>../../etc/passwd</filename>'), /not a plain file name/],
    ['absolute', good.replace('<filename>small.img.part.0</filename>', '<filename>/etc/passwd</filename>'), /not a plain file name/],
    ['bad digest', good.replace("<digest algorithm='SHA1'>a3afd8", "<digest algorithm='SHA1'>zzafd8"), /hex/],
    ['two digests', good.replace('</digest><size>', "</digest><digest algorithm='SHA1'>x</digest><size>"), /more than one/],
    ['huge value', good.replace('<name>small.img</name>', `<name>${'a'.repeat(100_000)}</name>`), /over the 8192 limit/],
  ];
  for (const [what, xml, message] of cases) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseManifest(xml), (e: unknown) => e instanceof ManifestMalformedError && message.test(e.message));
    });
  }

  it('refuses duplicate part indexes', () => {
    const two = fixture('ec2-ami-tools-full.manifest.xml').replace("<part index='1'>", "<part index='0'>");
    assert.throws(() => parseManifest(two), /appears twice/);
  });

  it('refuses oversized input before parsing', () => {
    assert.throws(() => parseManifest(good + ' '.repeat(5 * 1024 * 1024)), /over the 4194304-byte limit/);
  });

  it('unwraps the fixture key with its throwaway key', () => {
    const key = parsePrivateKey(readFileSync(join(SMALL, 'user-key.pem')), 'user-key.pem');
    const { manifest } = parseManifest(good);
    assert.equal(unwrapWithKey(manifest.image.userEncryptedKey, key, 'key').length, 16);
  });
});
