import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSelfSignedIdentity, type GeneratedIdentity } from '@bundlefarm/format';
import { sha256File } from './file-hash.js';
import { s3Requests, type FaultProxy } from './fault-proxy.js';
import { writeRandomFile } from './images.js';

/**
 * Pieces the test environments that run worker processes set up alike (test/service/service-environment.ts,
 * test/helpers/service-processes.ts, packages/queue/test/worker-environment.ts). What differs between
 * them (timings, retries, regions, log level, queue prefix) each environment still says itself.
 */

/**
 * Clears the proxy's faults and has it answer GetBucketLocation with us-gov-west-1, which s3rver cannot
 * (it reports every bucket in us-east-1): the proxy stands for that region's endpoint.
 */
export function answerAsGovWest(proxy: FaultProxy): void {
  proxy.clearFaults();
  proxy.addFault({
    match: s3Requests.bucketLocation,
    action: {
      type: 'respond',
      status: 200,
      body: '<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">us-gov-west-1</LocationConstraint>',
    },
  });
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

/** The worker configuration's `s3` section for s3rver at `endpoint` (path style), the credentials read from the variables `workerProcessEnv` sets, then `more`. */
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
