import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseManifest, unwrapWithKey, parsePrivateKey } from '@bundlefarm/format';
import { bundlefarm } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { writeIdentity } from '../helpers/identity.js';
import { textLike } from '../helpers/images.js';
import { needsTools } from '../helpers/requirements.js';
import { run } from '../helpers/run.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Amazon's tools are Ruby: they parse manifests with REXML and check signatures after REXML has
 * re-serialized the document. This runs those steps with real Ruby, REXML and OpenSSL against
 * bundlefarm's manifests (see ec2-ami-tools-check.rb).
 */
const CHECK = fileURLToPath(new URL('./ec2-ami-tools-check.rb', import.meta.url));

interface Check {
  reserialized_identical: boolean;
  authenticated: boolean;
  version: string;
  parts: string[];
  user_encrypted_key?: string;
  user_encrypted_iv?: string;
}

async function ec2Check(manifest: string, cert: string, key?: string): Promise<Check> {
  const r = await run('ruby', [CHECK, manifest, cert, ...(key ? [key] : [])]);
  assert.equal(r.code, 0, `ruby (apt-get install ruby): ${r.stderr}`);
  return JSON.parse(r.stdout) as Check;
}

describe("ec2-ami-tools' own checks (Ruby REXML + OpenSSL) accept bundlefarm manifests", { skip: needsTools(['ruby'], 'apt-get install ruby') }, () => {
  it('the check itself accepts ec2-ami-tools output and rejects euca2ools double-quoted form', async () => {
    const good = await ec2Check(join(FIXTURES, 'small', 'small.img.manifest.xml'), join(FIXTURES, 'small', 'user-cert.pem'));
    assert.equal(good.authenticated, true);
    assert.equal(good.reserialized_identical, true);
    const euca = await ec2Check(join(FIXTURES, 'euca2ools-sample.manifest.xml'), join(FIXTURES, 'small', 'user-cert.pem'));
    assert.equal(euca.reserialized_identical, false);
    assert.equal(euca.authenticated, false);
  });

  for (const region of ['us-east-1', 'us-gov-west-1', 'cn-north-1']) {
    it(`a full manifest for ${region}: REXML re-serializes it byte for byte, it authenticates, keys decrypt`, async () => {
      const dir = await tempDir();
      const { key, cert } = await writeIdentity(dir);
      const image = join(dir, 'web_server-v2.1.img');
      await writeFile(image, Buffer.concat([textLike(3 * 1024 * 1024), Buffer.alloc(1024 * 1024)]));
      const out = join(dir, 'bundle');
      const r = await bundlefarm([
        'bundle', '-i', image, '-c', cert, '-k', key, '-u', '1234-5678-9012', '-r', 'i386', '-d', out, '--region', region,
        '--kernel', 'aki-1a2b3c4d', '--ramdisk', 'ari-5e6f7a8b', '-B', 'ami=sda1,root=/dev/sda1,swap=sda3,ephemeral0=sda2', '--productcodes', 'ABCD1234',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const manifestPath = join(out, 'web_server-v2.1.img.manifest.xml');
      const check = await ec2Check(manifestPath, cert, key);
      assert.equal(check.reserialized_identical, true, 'already in REXML form');
      assert.equal(check.authenticated, true, 'signature verifies as ec2-migrate-manifest checks it');
      assert.equal(check.version, '2007-10-10');
      const { manifest } = parseManifest(await readFile(manifestPath));
      assert.deepEqual(check.parts, manifest.image.parts.map((p) => p.filename));
      const pk = parsePrivateKey(await readFile(key), key);
      assert.match(check.user_encrypted_key!, /^[0-9a-f]{32}$/);
      assert.equal(check.user_encrypted_key, unwrapWithKey(manifest.image.userEncryptedKey, pk, 'key').toString('hex'));
      assert.equal(check.user_encrypted_iv, unwrapWithKey(manifest.image.userEncryptedIv, pk, 'IV').toString('hex'));

      // a one-character change breaks authentication: the check can fail
      const tampered = (await readFile(manifestPath, 'utf8')).replace('<architecture>i386', '<architecture>x86_64');
      await writeFile(join(dir, 'tampered.xml'), tampered);
      assert.equal((await ec2Check(join(dir, 'tampered.xml'), cert)).authenticated, false);
    });
  }
});
