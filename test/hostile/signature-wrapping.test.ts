import assert from 'node:assert/strict';
import { createSign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseManifest, signedContent } from '@bundlefarm/format';
import { bundlefarm } from '../helpers/cli.js';
import { testIdentity } from '../helpers/identity.js';
import { buildWrappingAttack, WRAPPINGS, type Wrapping, type WrappingAttack } from '../helpers/wrapping-attack.js';

/**
 * Security review finding 1: a manifest that carries the victim's signed text where a string search finds
 * it (a comment, an unknown element, an attribute value, a processing instruction) ahead of the attacker's
 * own <machine_configuration> and <image> must never verify, and unbundle must write nothing.
 */
function assertRefused(r: { code: number | null; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.code, 1, `${what}: exit code (stdout: ${r.stdout} stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line, got: ${r.stderr}`);
  assert.match(lines[0]!, /^bundlefarm: BF_(MANIFEST_MALFORMED|SIGNATURE_INVALID): /, what);
  assert.ok(!r.stdout.includes('bundle OK'), what);
}

describe('signature wrapping: forged bundles never verify and never unbundle', () => {
  let attack: WrappingAttack;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bundlefarm-wrapping-'));
    attack = await buildWrappingAttack(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('the setup is sound: the victim bundle verifies, the attacker bundle under the victim signature does not', async () => {
    const ok = await bundlefarm(['verify', '-m', attack.victim.manifest, '-c', attack.victim.cert]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /bundle OK/);
    const evil = await bundlefarm(['verify', '-m', attack.attacker.manifest, '-c', attack.victim.cert]);
    assert.equal(evil.code, 1);
    assert.match(evil.stderr, /^bundlefarm: BF_SIGNATURE_INVALID: /);
    // and the attacker's parts are intact, so only the signature can stop it
    const parts = await bundlefarm(['verify', '-m', attack.attacker.manifest]);
    assert.equal(parts.code, 0, parts.stderr);
    // the attacker can decrypt as the victim would: its key/IV are wrapped for the victim's certificate
    const out = join(dir, 'control-out');
    const u = await bundlefarm(['unbundle', '-m', attack.attacker.manifest, '-k', attack.victim.key, '-d', out]);
    assert.equal(u.code, 0, u.stderr);
    assert.ok((await readFile(join(out, attack.name))).equals(attack.attacker.imageContent));
  });

  for (const kind of Object.keys(WRAPPINGS) as Wrapping[]) {
    const where = { comment: 'a comment', element: 'an unknown element', attribute: 'an attribute value', pi: 'a processing instruction' }[kind];
    it(`signed section inside ${where}: verify -c and unbundle -c -k refuse, nothing is written`, async () => {
      const manifest = attack.forged[kind];
      // the victim's signed bytes really are what a first-match string search finds in the forgery
      assert.equal(signedContent(await readFile(manifest, 'utf8')), signedContent(attack.victim.xml));

      assertRefused(await bundlefarm(['verify', '-m', manifest, '-c', attack.victim.cert]), `verify ${kind}`);

      const dest = join(dirname(manifest), 'out');
      const u = await bundlefarm(['unbundle', '-m', manifest, '-k', attack.victim.key, '-c', attack.victim.cert, '-d', dest]);
      assertRefused(u, `unbundle ${kind}`);
      assert.ok(!existsSync(dest), `${kind}: the destination was not even created`);
      const o = join(dirname(manifest), 'image.out');
      assertRefused(await bundlefarm(['unbundle', '-m', manifest, '-k', attack.victim.key, '-c', attack.victim.cert, '-o', o]), `unbundle -o ${kind}`);
      assert.ok(!existsSync(o));
      assert.deepEqual((await readdir(dirname(manifest))).filter((f) => !f.startsWith(attack.name)), [], 'no stray temp files');
    });
  }

  it("a euca2ools-form manifest (double quotes, encoding declaration, newline) signed over its own bytes verifies and unbundles", async () => {
    // euca2ools signs tostring(machine_configuration) + tostring(image): its own double-quoted bytes
    const xml =
      "<?xml version='1.0' encoding='ASCII'?>\n" +
      attack.victim.xml
        .replace("<?xml version='1.0'?>", '')
        .replace(/<signature>[0-9a-f]+<\/signature>/, '')
        .replace(/(\w+)='([^']*)'/g, '$1="$2"');
    const signer = createSign('sha1');
    signer.update(signedContent(xml));
    const signed = xml.replace('</manifest>', `<signature>${signer.sign(testIdentity().privateKey.key).toString('hex')}</signature></manifest>`);
    assert.ok(signed.includes('<digest algorithm="SHA1">') && signed.startsWith("<?xml version='1.0' encoding='ASCII'?>\n<manifest>"));
    const path = join(dirname(attack.victim.manifest), 'euca.manifest.xml');
    await writeFile(path, signed);
    const v = await bundlefarm(['verify', '-m', path, '-c', attack.victim.cert]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /bundle OK/);
    const out = join(dir, 'euca-out');
    const u = await bundlefarm(['unbundle', '-m', path, '-k', attack.victim.key, '-c', attack.victim.cert, '-d', out]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal((await readFile(join(out, attack.name), 'utf8')), 'GOOD IMAGE CONTENT\n'.repeat(1000));
    assert.equal(parseManifest(signed).manifest.image.name, attack.name);
    assert.equal((await stat(join(out, attack.name))).size, 19000);
  });
});
