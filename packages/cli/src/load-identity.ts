import { UnknownRegionError } from '@bundlefarm/errors';
import {
  ec2CertificateForRegion,
  isRegionName,
  readCertificateFile,
  readPrivateKeyFile,
  type CertificateMaterial,
  type PrivateKeyMaterial,
} from '@bundlefarm/format';

/** Environment variable holding the passphrase of an encrypted private key. */
export const PASSPHRASE_ENV = 'BUNDLEFARM_KEY_PASSPHRASE';

export async function loadPrivateKey(path: string, env: NodeJS.ProcessEnv): Promise<PrivateKeyMaterial> {
  // an empty variable counts as unset (as in the worker's configuration): `BUNDLEFARM_KEY_PASSPHRASE=`
  // means "none", and an encrypted key is then refused as having no passphrase, not a wrong one
  return readPrivateKeyFile(path, env[PASSPHRASE_ENV] || undefined, { passphraseFrom: `$${PASSPHRASE_ENV}` });
}

/**
 * The EC2 certificate to wrap the key/IV for: `--ec2cert` when given (any region name then), else the
 * one of `--region`'s partition (default us-east-1, the standard partition).
 */
export async function loadEc2Certificate(ec2cert: string | undefined, region: string | undefined): Promise<CertificateMaterial> {
  if (ec2cert) {
    if (region !== undefined && !isRegionName(region)) throw new UnknownRegionError(region, 'it is not a region name');
    return readCertificateFile(ec2cert);
  }
  return ec2CertificateForRegion(region ?? 'us-east-1');
}
