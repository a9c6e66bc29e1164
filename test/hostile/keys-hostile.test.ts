import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateSelfSignedIdentity } from '@bundlefarm/format';
import { assertOneLineError, bundlefarm } from '../helpers/cli.js';
import { testIdentity, writeIdentity } from '../helpers/identity.js';
import { textLike } from '../helpers/images.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Hostile keys and certificates, through the real `bundlefarm` command: each is refused with its typed
 * error — exit status 1, one line naming the code, no stack trace, no internal error — no run hangs
 * (each must end within the test's timeout: a key path naming /dev/zero used to read until the
 * machine's memory ran out), and nothing is written: a destination that already holds a file is left
 * exactly as it was.
 *
 * Not repeated here, covered elsewhere: packages/cli/test/cli.test.ts (bundle with a certificate of
 * another key into a missing destination, a truncated key, an encrypted PKCS#8 key without passphrase,
 * an unreadable key; unbundle with a wrong key names BF_WRONG_KEY) and packages/format/test/keys.test.ts
 * (parsing: a corrupt body, an empty file, a certificate as key and the reverse, a wrong passphrase, an
 * EC key).
 */
const dir = await tempDir('bundlefarm-keys-hostile-');
const user = testIdentity();
const { key, cert } = await writeIdentity(dir, user);
const image = join(dir, 'root.img');
await writeFile(image, textLike(256 * 1024));
const PASSPHRASE = 'correct horse battery staple';

/** Writes `content` as `name` in the test directory; resolves with its path. */
async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content, { mode: 0o600 });
  return path;
}

const pkcs1Der = user.privateKey.key.export({ type: 'pkcs1', format: 'der' });
/** The user's key with one byte of its last number (qi) changed: still well-formed DER, no longer a consistent key. */
const corruptDer = Buffer.from(pkcs1Der);
corruptDer[corruptDer.length - 20]! ^= 0x5a;
const aesTraditional = user.privateKey.key.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE }) as string;
const other = generateSelfSignedIdentity({ commonName: 'someone else' });
const otherSmall = generateSelfSignedIdentity({ commonName: 'someone else, 1024 bits', bits: 1024 });

const keys = {
  good: key,
  /** Encrypted the old way (`Proc-Type: 4,ENCRYPTED`, what `openssl genrsa -aes256` writes). */
  encryptedTraditional: await file('enc-traditional.pem', aesTraditional),
  encryptedPkcs8: await file('enc-pkcs8.pem', user.privateKey.key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE })),
  /**
   * A key under single DES (old `openssl genrsa -des`), which OpenSSL 3 refuses whatever the
   * passphrase. Only the header says DES here (OpenSSL 3 cannot write DES without its legacy module):
   * it refuses on the header, before decrypting a byte, so the body does not matter.
   */
  legacyDes: await file('enc-des.pem', aesTraditional.replace(/DEK-Info: AES-256-CBC,([0-9A-F]{16})[0-9A-F]{16}/, 'DEK-Info: DES-CBC,$1')),
  corrupt: await file('corrupt.pem', createPrivateKey({ key: corruptDer, format: 'der', type: 'pkcs1' }).export({ type: 'pkcs1', format: 'pem' })),
  garbagePem: await file('garbage.pem', '-----BEGIN RSA PRIVATE KEY-----\nthis is not base64 at all!\n-----END RSA PRIVATE KEY-----\n'),
  der: await file('key.der', pkcs1Der),
  // ssh-keygen's default format since OpenSSH 7.8 (a user's first guess at "my private key")
  openssh: await file('id_rsa', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB\n-----END OPENSSH PRIVATE KEY-----\n'),
  ec: await file('ec.pem', generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' })),
  other: await file('other-key.pem', other.privateKeyPem),
  otherSmall: await file('other-small-key.pem', otherSmall.privateKeyPem),
};
const certs = {
  good: cert,
  other: await file('other-cert.pem', other.certificatePem),
  truncated: await file('truncated-cert.pem', `${user.certificatePem.slice(0, 400)}\n-----END CERTIFICATE-----\n`),
};

let destinations = 0;
/** A fresh destination holding one file of its own, to show a refused command adds nothing to it. */
async function destination(): Promise<string> {
  const dest = join(dir, `dest-${++destinations}`);
  await mkdir(dest);
  await writeFile(join(dest, 'keep.txt'), 'mine');
  return dest;
}

interface Case {
  what: string;
  args: (dest: string) => string[];
  code: string;
  message: RegExp;
  env?: NodeJS.ProcessEnv;
}

/** Runs each case against a destination of its own; each must be refused as described and leave it as it was. */
async function assertRefused(cases: readonly Case[]): Promise<void> {
  for (const c of cases) {
    const dest = await destination();
    const r = await bundlefarm(c.args(dest), { env: { BUNDLEFARM_KEY_PASSPHRASE: '', ...c.env } });
    try {
      assertOneLineError(r, c.code, c.message);
    } catch (err) {
      throw new Error(`${c.what}: ${(err as Error).message}`, { cause: err });
    }
    assert.deepEqual(await readdir(dest), ['keep.txt'], `${c.what}: nothing written`);
  }
}

const bundleArgs = (k: string, c: string, dest: string): string[] => ['bundle', '-i', image, '-k', k, '-c', c, '-u', '123456789012', '-r', 'x86_64', '-d', dest];

// one good bundle to unbundle with hostile keys
const bundleDir = join(dir, 'bundle');
const made = await bundlefarm(bundleArgs(key, cert, bundleDir));
assert.equal(made.code, 0, made.stderr);
const manifest = join(bundleDir, 'root.img.manifest.xml');
const unbundleArgs = (k: string, dest: string, extra: string[] = []): string[] => ['unbundle', '-m', manifest, '-k', k, '-d', dest, ...extra];

const TIMEOUT = { timeout: 120_000 };

describe('hostile keys and certificates, through the CLI', TIMEOUT, () => {
  it('bundle refuses them before writing anything', TIMEOUT, async () => {
    const bundleCase = (what: string, k: string, c: string, code: string, message: RegExp, env?: NodeJS.ProcessEnv): Case => ({
      what,
      args: (dest) => bundleArgs(k, c, dest),
      code,
      message,
      ...(env ? { env } : {}),
    });
    await assertRefused([
      // a key and a certificate of different pairs, into a destination that exists
      bundleCase('certificate of another key', keys.good, certs.other, 'BF_CERT_KEY_MISMATCH', /other-cert\.pem does not belong to private key .*user-key\.pem/),
      bundleCase('key of another certificate', keys.other, certs.good, 'BF_CERT_KEY_MISMATCH', /user-cert\.pem does not belong/),
      bundleCase('PEM armour around garbage', keys.garbagePem, certs.good, 'BF_BAD_KEY', /garbage\.pem .*corrupt or truncated/),
      bundleCase('a DER (binary) key', keys.der, certs.good, 'BF_BAD_KEY', /no PEM private key/),
      bundleCase('an OpenSSH key', keys.openssh, certs.good, 'BF_BAD_KEY', /OpenSSH private key.*ssh-keygen -p -m PEM/),
      bundleCase('an EC key', keys.ec, certs.good, 'BF_BAD_KEY', /it is an EC key; bundles need an RSA key/),
      bundleCase('a key whose private numbers were damaged', keys.corrupt, certs.good, 'BF_BAD_KEY', /corrupt\.pem .*the key is corrupt/),
      // encrypted keys: an empty $BUNDLEFARM_KEY_PASSPHRASE is no passphrase (assertRefused sets it so)
      bundleCase('encrypted (Proc-Type), no passphrase', keys.encryptedTraditional, certs.good, 'BF_BAD_KEY', /encrypted and no passphrase was given \(in \$BUNDLEFARM_KEY_PASSPHRASE\)/),
      bundleCase('encrypted (PKCS#8), wrong passphrase', keys.encryptedPkcs8, certs.good, 'BF_BAD_KEY', /the passphrase is wrong/, { BUNDLEFARM_KEY_PASSPHRASE: 'wrong' }),
      bundleCase('encrypted with DES, right passphrase', keys.legacyDes, certs.good, 'BF_BAD_KEY', /legacy cipher .*re-encrypt it with AES/, { BUNDLEFARM_KEY_PASSPHRASE: PASSPHRASE }),
      // paths naming what is no key file at all: refused at once, not read without end
      bundleCase('/dev/zero as key', '/dev/zero', certs.good, 'BF_BAD_KEY', /\/dev\/zero .*holds more than 1048576 bytes/),
      bundleCase('/dev/zero as certificate', keys.good, '/dev/zero', 'BF_BAD_CERT', /\/dev\/zero .*holds more than 1048576 bytes/),
      bundleCase('the image as key', image, certs.good, 'BF_BAD_KEY', /no PEM private key/),
      bundleCase('a truncated certificate', keys.good, certs.truncated, 'BF_BAD_CERT', /corrupt or truncated/),
      {
        what: 'a private key as --ec2cert',
        args: (dest) => [...bundleArgs(keys.good, certs.good, dest), '--ec2cert', keys.good],
        code: 'BF_BAD_CERT',
        message: /it is a private key, not a certificate/,
      },
    ]);
  });

  it('unbundle refuses them before writing anything, naming a wrong key as such and a corrupt one as corrupt', TIMEOUT, async () => {
    const unbundleCase = (what: string, k: string, code: string, message: RegExp, env?: NodeJS.ProcessEnv, extra?: string[]): Case => ({
      what,
      args: (dest) => unbundleArgs(k, dest, extra),
      code,
      message,
      ...(env ? { env } : {}),
    });
    await assertRefused([
      unbundleCase('another key of the same size', keys.other, 'BF_WRONG_KEY', /other-key\.pem cannot decrypt the AES key/),
      unbundleCase('another key of another size', keys.otherSmall, 'BF_WRONG_KEY', /other-small-key\.pem cannot decrypt/),
      // the right key, damaged: not "the bundle was made for another key"
      unbundleCase('the right key, damaged', keys.corrupt, 'BF_BAD_KEY', /the key is corrupt/),
      unbundleCase('the right key encrypted, no passphrase', keys.encryptedTraditional, 'BF_BAD_KEY', /encrypted and no passphrase was given/),
      unbundleCase('the right key encrypted, wrong passphrase', keys.encryptedPkcs8, 'BF_BAD_KEY', /the passphrase is wrong/, { BUNDLEFARM_KEY_PASSPHRASE: 'wrong' }),
      unbundleCase('a truncated key', await file('truncated-key.pem', user.privateKeyPem.slice(0, 600)), 'BF_BAD_KEY', /truncated/),
      unbundleCase('/dev/zero as key', '/dev/zero', 'BF_BAD_KEY', /holds more than/),
      unbundleCase('-c: the certificate of another key', keys.good, 'BF_SIGNATURE_INVALID', /other-cert\.pem/, undefined, ['-c', certs.other]),
      unbundleCase('-c: a truncated certificate', keys.good, 'BF_BAD_CERT', /corrupt or truncated/, undefined, ['-c', certs.truncated]),
      {
        what: '/dev/zero as manifest',
        args: (dest) => ['unbundle', '-m', '/dev/zero', '-k', keys.good, '-d', dest],
        code: 'BF_MANIFEST_MALFORMED',
        message: /\/dev\/zero holds more than 4194304 bytes/,
      },
    ]);
    for (const [what, c, message] of [
      ['the certificate of another key', certs.other, /BF_SIGNATURE_INVALID/],
      ['/dev/zero as certificate', '/dev/zero', /BF_BAD_CERT: .*holds more than/],
    ] as const) {
      const r = await bundlefarm(['verify', '-m', manifest, '-c', c]);
      assert.equal(r.code, 1, `verify, ${what}: ${r.stderr}`);
      assert.match(r.stderr, message, `verify, ${what}`);
    }
  });

  it('while the same keys, given what they need, work (the refusals above are about the keys)', TIMEOUT, async () => {
    const out = join(dir, 'encrypted-bundle');
    const withPassphrase = { env: { BUNDLEFARM_KEY_PASSPHRASE: PASSPHRASE } };
    const made = await bundlefarm(bundleArgs(keys.encryptedPkcs8, certs.good, out), withPassphrase);
    assert.equal(made.code, 0, made.stderr);
    const back = join(dir, 'encrypted-back');
    const r = await bundlefarm(['unbundle', '-m', join(out, 'root.img.manifest.xml'), '-k', keys.encryptedTraditional, '-c', certs.good, '-d', back], withPassphrase);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readFile(join(back, 'root.img'))).equals(await readFile(image)));
  });
});
