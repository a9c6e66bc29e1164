/*
 * Reading a local service's S3 as its user: the objects under a prefix, and copies of them in a
 * directory (for `bundlefarm demo --service`, which lists what a job published and unbundles it).
 * Signed with the key pair of the env file, at the endpoint of the bucket's region.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { LocalEnv } from './local-env-file.js';
import { LocalServiceError } from './local-service-error.js';

export interface LocalObject {
  key: string;
  size: number;
}

function clientFor(env: LocalEnv, region: string): S3Client {
  const endpoint = env.s3Endpoints[region];
  if (endpoint === undefined) throw new LocalServiceError(`the local S3 has no endpoint for ${region}`);
  return new S3Client({
    region,
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: env.s3AccessKeyId, secretAccessKey: env.s3SecretAccessKey },
  });
}

/** Every object under `prefix` in `bucket` (of `region`), by key. */
export async function listLocalObjects(env: LocalEnv, region: string, bucket: string, prefix: string): Promise<LocalObject[]> {
  const s3 = clientFor(env, region);
  try {
    const objects: LocalObject[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token !== undefined ? { ContinuationToken: token } : {}) }));
      for (const o of page.Contents ?? []) if (o.Key !== undefined) objects.push({ key: o.Key, size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return objects.sort((a, b) => a.key.localeCompare(b.key));
  } finally {
    s3.destroy();
  }
}

/** Copies each object into `dir` under its base name (a bundle's manifest and parts side by side). */
export async function downloadLocalObjects(env: LocalEnv, region: string, bucket: string, keys: readonly string[], dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const s3 = clientFor(env, region);
  try {
    for (const key of keys) {
      const name = basename(key);
      if (name === '' || name === '.' || name === '..') throw new LocalServiceError(`cannot copy ${key}: no file name`);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!(got.Body instanceof Readable)) throw new LocalServiceError(`s3://${bucket}/${key}: the answer has no body`);
      await pipeline(got.Body, createWriteStream(join(dir, name)));
    }
  } finally {
    s3.destroy();
  }
}
