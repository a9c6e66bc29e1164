import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/**
 * Real bundles made by Amazon's ec2-ami-tools 1.5.3 (copied from the shared fixtures; their user key is
 * a throwaway), and EC2's public certificates as shipped in @bundlefarm/format.
 */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = join(REPO, 'test', 'fixtures', 'ec2-ami-tools-1.5.3');
export const SMALL = join(FIXTURES, 'small');
export const EC2_CERTS = join(REPO, 'packages', 'format', 'certs');
