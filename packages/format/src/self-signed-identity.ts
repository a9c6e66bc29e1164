import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseCertificate, parsePrivateKey } from './key-material.js';
import { nodeForge } from './lazy-modules.js';
import type { UserIdentity } from './manifest-build.js';

/**
 * A throwaway RSA key and self-signed X.509 certificate, as `openssl req -x509 -newkey rsa:2048` would
 * make: for `bundlefarm demo`, tests and trying things out. EC2 never checks who issued the user's
 * certificate; real users bring the key pair they registered their bundles with.
 */
export interface GeneratedIdentity extends UserIdentity {
  privateKeyPem: string;
  certificatePem: string;
}

export function generateSelfSignedIdentity(options: { bits?: number; commonName?: string; days?: number } = {}): GeneratedIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: options.bits ?? 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const forge = nodeForge();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + (options.days ?? 365) * 86_400_000);
  const attrs = [{ name: 'commonName', value: options.commonName ?? 'bundlefarm throwaway' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(cert);
  return {
    privateKeyPem,
    certificatePem,
    privateKey: parsePrivateKey(privateKeyPem, 'generated key'),
    certificate: parseCertificate(certificatePem, 'generated certificate'),
  };
}
