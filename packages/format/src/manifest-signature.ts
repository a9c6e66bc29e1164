/*
 * Manifest signatures: RSASSA-PKCS1-v1_5 with SHA-1, lowercase hex in <signature> (bundle-format.md §4).
 *
 * What is verified is what is used. The format signs a text found by string search (the first
 * `<machine_configuration>…</machine_configuration>` then the first `<image>…</image>`,
 * manifest-signed-text.ts), while bundlefarm acts on the values of the <machine_configuration> and
 * <image> elements it parses. Those must be the same bytes, or a manifest can carry a genuinely signed
 * text where a string search finds it but a reader skips it (a comment, an unknown element, an attribute
 * value, a processing instruction) and the attacker's own elements after it (security review finding 1).
 * So verification never searches raw text on its own:
 *
 * 1. The text is parsed by the strict reader (manifest-xml.ts, manifest-parse.ts). It refuses every
 *    construct that can hide markup from a reader (comments, PIs, DOCTYPE, CDATA, unknown or repeated
 *    elements at any level, markup in attribute values, text between elements) and keeps each element's
 *    offsets. In what it accepts, every `<` starts a tag of the tree it returns.
 * 2. The signed bytes are sliced from the offsets of the very <machine_configuration> and <image>
 *    elements the values were read from; each must be spelled exactly `<tag>…</tag>` and its tags must
 *    occur once in the whole text, and the format's string search must give the same bytes.
 * 3. `verifyManifestSignature` re-parses the manifest's text and requires the result to equal the
 *    manifest it is given before checking the signature over the bytes of step 2; so when it returns,
 *    the manifest a caller goes on to use is exactly what the signed bytes say.
 *
 * Signing (`signManifestText`) applies the format's string search to our own serializer's output, which
 * always satisfies 1 and 2.
 */
import { createSign, createVerify, type KeyObject } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { ManifestMalformedError, SignatureInvalidError } from '@bundlefarm/errors';
import { parseManifestDocument, type ParsedManifest } from './manifest-parse.js';
import { signedContent } from './manifest-signed-text.js';

export { signedContent } from './manifest-signed-text.js';

/** The text is already in memory and was parsed once: re-parsing it must not refuse it on size alone. */
const NO_LIMITS = { maxBytes: Number.MAX_SAFE_INTEGER, maxValueLength: Number.MAX_SAFE_INTEGER };

/** RSASSA-PKCS1-v1_5 with SHA-1 over `signedContent(xml)`, lowercase hex. */
export function signManifestText(xmlWithoutSignature: string, privateKey: KeyObject): string {
  const signer = createSign('sha1');
  signer.update(signedContent(xmlWithoutSignature), 'utf8');
  return signer.sign(privateKey).toString('hex');
}

/**
 * Check the signature of a parsed manifest with a certificate's public key, over the text of the
 * elements `parsed.manifest` was read from. Throws SignatureInvalidError (naming `certName`) when it does
 * not verify, ManifestMalformedError when there is no usable signature or `parsed.manifest` is not what
 * `parsed.xml` says.
 */
export function verifyManifestSignature(parsed: ParsedManifest, publicKey: KeyObject, certName: string): void {
  const doc = parseManifestDocument(parsed.xml, NO_LIMITS);
  if (!isDeepStrictEqual(doc.manifest, parsed.manifest)) {
    throw new ManifestMalformedError('the manifest to check is not the one its text says; refusing to vouch for it');
  }
  verifySignedText(doc.signedText, doc.manifest.signature, publicKey, certName);
}

/**
 * Check `signatureHex` over the signed text of the manifest `xml` (parsed strictly, as
 * `verifyManifestSignature` does). Same errors.
 */
export function verifyManifestText(xml: string, signatureHex: string | undefined, publicKey: KeyObject, certName: string): void {
  verifySignedText(parseManifestDocument(xml, NO_LIMITS).signedText, signatureHex, publicKey, certName);
}

function verifySignedText(signedText: string, signatureHex: string | undefined, publicKey: KeyObject, certName: string): void {
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
  verifier.update(signedText, 'utf8');
  let ok = false;
  try {
    ok = verifier.verify(publicKey, Buffer.from(signatureHex, 'hex'));
  } catch {
    ok = false;
  }
  if (!ok) throw new SignatureInvalidError(certName);
}
