import { createSign, createVerify, type KeyObject } from 'node:crypto';
import { ManifestMalformedError, SignatureInvalidError } from '@bundlefarm/errors';

/**
 * The bytes ec2-ami-tools signs: in the serialized manifest, the substring from the first
 * `<machine_configuration>` through the first `</machine_configuration>` (empty if there is none),
 * immediately followed by the substring from the first `<image>` through the first `</image>`.
 * Plain string search, no canonicalisation (`manifestv20071010.rb`, `xmlutil.rb`).
 */
export function signedContent(xml: string): string {
  return section(xml, 'machine_configuration', false) + section(xml, 'image', true);
}

function section(xml: string, tag: string, required: boolean): string {
  const open = `<${tag}>`;
  const close = `</${tag}>`;
  const start = xml.indexOf(open);
  if (start < 0) {
    if (required) throw new ManifestMalformedError(`no <${tag}> element`);
    return '';
  }
  const end = xml.indexOf(close, start);
  if (end < 0) throw new ManifestMalformedError(`<${tag}> is not closed`);
  return xml.slice(start, end + close.length);
}

/** RSASSA-PKCS1-v1_5 with SHA-1 over `signedContent(xml)`, lowercase hex. */
export function signManifestText(xmlWithoutSignature: string, privateKey: KeyObject): string {
  const signer = createSign('sha1');
  signer.update(signedContent(xmlWithoutSignature), 'utf8');
  return signer.sign(privateKey).toString('hex');
}

/**
 * Check a manifest's signature with a certificate's public key. Throws SignatureInvalidError (naming
 * `certName`) when it does not verify, ManifestMalformedError when there is no usable signature.
 */
export function verifyManifestText(xml: string, signatureHex: string | undefined, publicKey: KeyObject, certName: string): void {
  if (!signatureHex) throw new ManifestMalformedError('manifest has no <signature>');
  if (!/^[0-9a-fA-F]+$/.test(signatureHex) || signatureHex.length % 2 !== 0) {
    throw new ManifestMalformedError('<signature> is not hex');
  }
  const modulusBits = publicKey.asymmetricKeyDetails?.modulusLength;
  if (modulusBits !== undefined && signatureHex.length !== Math.ceil(modulusBits / 8) * 2) {
    throw new SignatureInvalidError(certName, {
      details: { reason: `signature is ${signatureHex.length / 2} bytes, the key's modulus is ${Math.ceil(modulusBits / 8)}` },
    });
  }
  const verifier = createVerify('sha1');
  verifier.update(signedContent(xml), 'utf8');
  let ok = false;
  try {
    ok = verifier.verify(publicKey, Buffer.from(signatureHex, 'hex'));
  } catch {
    ok = false;
  }
  if (!ok) throw new SignatureInvalidError(certName);
}
