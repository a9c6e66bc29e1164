/**
 * EC2's public certificates, shipped in this package (`certs/`), and which one a region's bundles are
 * encrypted for. ec2-ami-tools uses one certificate per partition: the (expired, still used) "AES Test"
 * certificate for every standard region, one for us-gov-west-1 and one for cn-north-1. Newer regions of
 * the GovCloud and China partitions (us-gov-east-1, cn-northwest-1) have no published certificate in any
 * tool; they are refused unless the caller gives the certificate explicitly (`--ec2cert`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UnknownRegionError } from '@bundlefarm/errors';
import { parseCertificate, type CertificateMaterial } from './key-material.js';

export type Partition = 'aws' | 'aws-us-gov' | 'aws-cn';

/** Standard-partition regions known on 2026-11-25. */
export const AWS_REGIONS: readonly string[] = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2',
  'af-south-1',
  'ap-east-1', 'ap-east-2', 'ap-south-1', 'ap-south-2',
  'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3',
  'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7',
  'ca-central-1', 'ca-west-1',
  'eu-central-1', 'eu-central-2', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-south-1', 'eu-south-2', 'eu-north-1',
  'il-central-1', 'me-south-1', 'me-central-1', 'mx-central-1', 'sa-east-1',
];

const CERT_FILES: Record<Partition, string> = {
  aws: 'cert-ec2.pem',
  'aws-us-gov': 'cert-ec2-gov.pem',
  'aws-cn': 'cert-ec2-cn-north-1.pem',
};

/** Regions with a known EC2 certificate, and their partition. */
export function partitionOfRegion(region: string): Partition {
  if (region === 'us-gov-west-1') return 'aws-us-gov';
  if (region === 'cn-north-1') return 'aws-cn';
  if (AWS_REGIONS.includes(region)) return 'aws';
  if (/^us-gov-/.test(region) || /^cn-/.test(region)) {
    throw new UnknownRegionError(
      region,
      'no EC2 certificate is published for this region (only us-gov-west-1 and cn-north-1 have one in their partitions); give one explicitly with --ec2cert',
    );
  }
  throw new UnknownRegionError(region);
}

/** Region names as AWS spells them (for checks when a certificate is given explicitly). */
export function isRegionName(region: string): boolean {
  return /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region);
}

const cache = new Map<Partition, CertificateMaterial>();

export function ec2CertificatePath(partition: Partition): string {
  return fileURLToPath(new URL(`../certs/${CERT_FILES[partition]}`, import.meta.url));
}

export function ec2CertificateForPartition(partition: Partition): CertificateMaterial {
  let cert = cache.get(partition);
  if (!cert) {
    const path = ec2CertificatePath(partition);
    cert = parseCertificate(readFileSync(path), `EC2 certificate ${CERT_FILES[partition]} (${partition})`);
    cache.set(partition, cert);
  }
  return cert;
}

/** The EC2 certificate bundles for `region` must be encrypted for (default region us-east-1). */
export function ec2CertificateForRegion(region = 'us-east-1'): CertificateMaterial {
  return ec2CertificateForPartition(partitionOfRegion(region));
}
