import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSelfSignedIdentity, type GeneratedIdentity } from '@bundlefarm/format';
import { sha256File } from './file-hash.js';
import type { FaultProxy } from './fault-proxy.js';
import { writeRandomFile } from './images.js';

/**
 * Pieces the test environments that run worker processes set up alike (test/service/service-environment.ts,
 * test/helpers/service-processes.ts, packages/queue/test/worker-environment.ts). What differs between
 * them (timings, retries, regions, log level, queue prefix) each environment still says itself.
 */

/** The region the service tests bundle into besides us-east-1 (a partition of its own: another EC2 certificate). */
export const GOV_REGION = 'us-gov-west-1';

/**
 * Takes every fault a test added off the proxy. (It used to also fake GetBucketLocation's answer as
 * us-gov-west-1, which s3rver could not give; the S3 front answers with each bucket's real region, so
 * gov buckets are created in us-gov-west-1 and reached at its endpoint instead.)
 * @deprecated use `proxy.clearFaults()`.
 */
export function answerAsGovWest(proxy: FaultProxy): void {
  proxy.clearFaults();
}

/** `imageRoot` (`images` under `dir`, created) with one image of random bytes at `path`, and its SHA-256. */
export async function imageRootWith(dir: string, path: string, size: number, seed: number): Promise<{ imageRoot: string; image: { path: string; size: number; sha256: string } }> {
  const imageRoot = join(dir, 'images');
  await mkdir(imageRoot);
  await writeRandomFile(join(imageRoot, path), size, seed);
  return { imageRoot, image: { path, size, sha256: await sha256File(join(imageRoot, path)) } };
}

/** The worker configuration's `ec2Certificates`, relative to the directory `writeEc2Certificates` wrote to. */
export const EC2_CERTIFICATE_FILES = { aws: 'ec2-aws.pem', 'aws-us-gov': 'ec2-gov.pem' };

/** Test EC2 identities per partition; their certificates are written to `dir` (the private keys stay with the test, to check which one a manifest was encrypted for). */
export async function writeEc2Certificates(dir: string): Promise<{ aws: GeneratedIdentity; gov: GeneratedIdentity }> {
  const ec2 = {
    aws: generateSelfSignedIdentity({ commonName: 'test EC2 (aws)' }),
    gov: generateSelfSignedIdentity({ commonName: 'test EC2 (aws-us-gov)' }),
  };
  await writeFile(join(dir, EC2_CERTIFICATE_FILES.aws), ec2.aws.certificatePem);
  await writeFile(join(dir, EC2_CERTIFICATE_FILES['aws-us-gov']), ec2.gov.certificatePem);
  return ec2;
}

/** The worker configuration's `s3` section for the S3 front at `endpoint` (path style), the credentials read from the variables `workerProcessEnv` sets, then `more`. */
export function workerS3Section(endpoint: string, more: Record<string, unknown>): Record<string, unknown> {
  return { endpoint, forcePathStyle: true, accessKeyIdEnv: 'TEST_S3_KEY_ID', secretAccessKeyEnv: 'TEST_S3_SECRET', ...more };
}

/** The environment of a worker process: Redis, the queue prefix (when not the default), its configuration file, log level and S3 credentials. */
export function workerProcessEnv(o: {
  redisUrl: string;
  prefix?: string;
  configFile: string;
  logLevel: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}): Record<string, string> {
  return {
    BUNDLEFARM_REDIS_URL: o.redisUrl,
    ...(o.prefix !== undefined ? { BUNDLEFARM_QUEUE_PREFIX: o.prefix } : {}),
    BUNDLEFARM_CONFIG: o.configFile,
    BUNDLEFARM_LOG_LEVEL: o.logLevel,
    TEST_S3_KEY_ID: o.credentials.accessKeyId,
    TEST_S3_SECRET: o.credentials.secretAccessKey,
  };
}
