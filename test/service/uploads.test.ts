import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { hashToken } from '@bundlefarm/queue';
import { apiRequest } from '../helpers/api-request.js';
import { bundlefarm } from '../helpers/cli.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { sha256File } from '../helpers/file-hash.js';
import { writeIdentity } from '../helpers/identity.js';
import { randomIslands, writeRandomFile, writeSparseImage } from '../helpers/images.js';
import { getObject, listKeys } from '../helpers/s3-objects.js';
import { ACCOUNT, serviceProcesses, startApiProcess, until } from '../helpers/service-processes.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Images from CI, every part real: redis-server, the S3 front (which checks presigned SigV4 query
 * strings), the API and a worker process sharing a principals file and the staging area
 * s3://staging/uploads. The CLI reaches S3 only through the presigned URLs the API hands out, which
 * name a fault proxy in front of the S3 front (BUNDLEFARM_STAGING_ENDPOINT): it cuts the connection of
 * every part from 7 on in the first run, and counts the part PUTs of each run.
 *
 * - `enqueue --upload` of a 200 MiB (sparse) image: the first run stops with BF_UPLOAD_FAILED; the
 *   second sends exactly the parts the first did not store, enqueues the job on the staged object,
 *   which is bundled and unbundles to the image; the staged object is gone once the job completed.
 * - A principal whose image scope does not cover the staging area gets 403 naming `image`.
 * - A job whose image is outside staging, or an unmarked object inside it, is never deleted.
 * - A small image (one presigned PUT) whose job fails for good is deleted too.
 */
const token = (label: string): string => `${label}-${randomBytes(24).toString('base64url')}`;
const TOKENS = { ci: token('ci'), other: token('other') };
const STAGING = 's3://staging/uploads';
const MiB = 1024 * 1024;

const env = await serviceProcesses({
  principals: {
    principals: [
      { name: 'ci', tokenHashes: [hashToken(TOKENS.ci)], identities: ['release'], targets: ['**'], images: ['s3://staging/uploads/ci/**', 's3://images/ci/**'] },
      { name: 'other', tokenHashes: [hashToken(TOKENS.other)], identities: ['release'], targets: ['**'], images: ['s3://images/other/**'] },
    ],
  },
  workerConfig: { staging: STAGING },
});
await env.s3.createBucket('staging');
await env.s3.createBucket('amis');
await env.s3.createBucket('images');

// Clients reach S3 through this proxy (the URLs are signed for its host); the API and the worker do not.
const proxy = await startFaultProxy({ target: env.s3.endpoint });
const api = await startApiProcess({ ...env.apiEnv, BUNDLEFARM_STAGING: STAGING, BUNDLEFARM_STAGING_ENDPOINT: proxy.endpoint });
after(async () => {
  await api.stop('SIGTERM');
  await proxy.close();
});

const dir = await tempDir('bundlefarm-uploads-');
const identity = await writeIdentity(dir, env.user);
const stateDir = join(dir, 'upload-state');
const cliEnv = (who: keyof typeof TOKENS) => ({ BUNDLEFARM_API_URL: api.url, BUNDLEFARM_API_TOKEN: TOKENS[who], BUNDLEFARM_UPLOAD_STATE_DIR: stateDir });
const request = (who: keyof typeof TOKENS, method: string, path: string, body?: unknown) => apiRequest(api.url, TOKENS[who], method, path, body);

async function finished(id: string): Promise<{ state: string; error: { code: string } | null; spec: { image: string } }> {
  return until(
    `job ${id} to finish`,
    async () => {
      const s = await request('ci', 'GET', `/v1/bundles/${encodeURIComponent(id)}`);
      assert.equal(s.status, 200, s.text);
      return s.json.finished ? s.json : undefined;
    },
    180_000,
    200,
  );
}

async function exists(bucket: string, key: string): Promise<boolean> {
  try {
    await env.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

const keyOf = (image: string): { bucket: string; key: string } => {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(image)!;
  return { bucket: m[1]!, key: m[2]! };
};

/** Part numbers of the part PUTs the proxy saw answered 200. */
function storedParts(): number[] {
  return proxy.requests
    .filter((r) => r.method === 'PUT' && r.query.has('partNumber') && r.status === 200)
    .map((r) => Number(r.query.get('partNumber')))
    .sort((a, b) => a - b);
}

describe('images from CI', () => {
  it('uploads 200 MiB through presigned URLs, resumes after a cut sending only the missing parts, bundles it and deletes the staged image', async () => {
    const image = join(dir, 'root.img');
    const SIZE = 200 * MiB;
    await writeSparseImage(image, SIZE, randomIslands(SIZE, 24, 256 * 1024));
    const digest = await sha256File(image);
    const args = ['enqueue', '-i', image, '--upload', '-u', ACCOUNT, '-r', 'x86_64', '--identity', 'release', '--target', 'us-east-1:amis/ci/', '--level', '1'];

    // first run: every part from 7 on has its connection cut 1 MiB into the body
    proxy.addFault({ match: (r) => r.method === 'PUT' && Number(r.query.get('partNumber') ?? '0') >= 7, action: { type: 'drop-request', afterBytes: MiB } });
    const cut = await bundlefarm(['-q', ...args], { env: cliEnv('ci') });
    assert.equal(cut.code, 1, cut.stderr);
    assert.match(cut.stderr, /^bundlefarm: BF_UPLOAD_FAILED: uploading .*root\.img stopped with \d+ of 13 part\(s\) stored: .*run the same command again/);
    const first = storedParts();
    assert.ok(first.length > 0 && first.every((n) => n < 7), `first run stored ${first.join(',')}`);
    assert.ok(proxy.counters.droppedRequests > 0);

    // second run: only what is missing goes
    proxy.clearFaults();
    proxy.resetRecords();
    const resumed = await bundlefarm(args, { env: cliEnv('ci') });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resumed upload/);
    const second = storedParts();
    const partPuts = proxy.requests.filter((r) => r.method === 'PUT' && r.query.has('partNumber'));
    assert.equal(partPuts.length, 13 - first.length, `part PUTs of the second run: ${second.join(',')}`);
    assert.deepEqual(second.filter((n) => first.includes(n)), [], 'no stored part sent again');
    assert.deepEqual([...first, ...second].sort((a, b) => a - b), Array.from({ length: 13 }, (_, i) => i + 1));
    // every part went with a presigned URL (no Authorization header: the CLI has no S3 credentials)
    assert.ok(partPuts.every((r) => r.headers.authorization === undefined && r.query.has('X-Amz-Signature')));

    const jobId = resumed.stdout.trim();
    const status = await finished(jobId);
    assert.equal(status.state, 'completed', JSON.stringify(status.error));
    const staged = keyOf(status.spec.image);
    assert.equal(staged.bucket, 'staging');
    assert.match(staged.key, /^uploads\/ci\/[0-9a-f-]{36}\/root\.img$/);
    assert.equal(await exists(staged.bucket, staged.key), false, 'the staged image is deleted when the job ends');
    assert.deepEqual(await readdir(stateDir), [], 'the resume state is gone once the upload completed');

    // the bundle unbundles to the image
    const keys = await listKeys(env.client, 'amis', 'ci/');
    const bundleDir = await tempDir('bundlefarm-uploads-bundle-');
    for (const k of keys) await writeFile(join(bundleDir, k.slice('ci/'.length)), await getObject(env.client, 'amis', k));
    const out = join(bundleDir, 'out');
    const un = await bundlefarm(['unbundle', '-m', join(bundleDir, 'root.img.manifest.xml'), '-k', identity.key, '-c', identity.cert, '-d', out]);
    assert.equal(un.code, 0, un.stderr);
    assert.equal(await sha256File(join(out, 'root.img')), digest);
  });

  it('refuses an upload with 403 naming image when the staging area is outside the principal\'s image scope', async () => {
    const r = await request('other', 'POST', '/v1/uploads', { filename: 'root.img', size: 4096 });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error, 'BF_OUT_OF_SCOPE');
    assert.equal(r.json.problems[0].path, 'image');
    assert.match(r.json.problems[0].message, /s3:\/\/staging\/uploads\/other\/\*\*/);
    // and the CLI says so in one line
    const small = join(dir, 'small.img');
    await writeRandomFile(small, 64 * 1024, 3);
    const cli = await bundlefarm(['enqueue', '-q', '-i', small, '--upload', '-u', ACCOUNT, '-r', 'x86_64', '--identity', 'release', '--target', 'us-east-1:amis/other/'], {
      env: cliEnv('other'),
    });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^bundlefarm: BF_OUT_OF_SCOPE: .*image: /);
  });

  it('never deletes a job image outside staging, nor an object under the prefix that the API did not stage', async () => {
    const outside = 'ci/other.img';
    const unmarked = `uploads/ci/${randomUUID()}/hand.img`;
    await env.client.send(new PutObjectCommand({ Bucket: 'images', Key: outside, Body: randomBytes(256 * 1024) }));
    await env.client.send(new PutObjectCommand({ Bucket: 'staging', Key: unmarked, Body: randomBytes(256 * 1024) }));
    for (const [bucket, key] of [
      ['images', outside],
      ['staging', unmarked],
    ] as const) {
      const r = await request('ci', 'POST', '/v1/bundles', {
        name: `keep-${randomUUID().slice(0, 8)}`,
        image: `s3://${bucket}/${key}`,
        architecture: 'x86_64',
        accountId: ACCOUNT,
        identity: 'release',
        regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'keep/' }],
        level: 1,
      });
      assert.equal(r.status, 202, r.text);
      const status = await finished(r.json.id);
      assert.equal(status.state, 'completed', JSON.stringify(status.error));
      assert.equal(await exists(bucket, key), true, `s3://${bucket}/${key} is still there`);
    }
  });

  it('deletes a small staged image (one presigned PUT) when its job fails for good', async () => {
    const small = join(dir, 'small-fail.img');
    await writeRandomFile(small, 512 * 1024, 4);
    proxy.resetRecords();
    const r = await bundlefarm(['enqueue', '-q', '-i', small, '--upload', '-u', ACCOUNT, '-r', 'x86_64', '--identity', 'release', '--target', 'us-east-1:no-such-bucket-here/'], {
      env: cliEnv('ci'),
    });
    assert.equal(r.code, 0, r.stderr);
    const puts = proxy.requests.filter((x) => x.method === 'PUT');
    assert.equal(puts.length, 1, 'one presigned PUT');
    assert.ok(!puts[0]!.query.has('partNumber') && puts[0]!.query.has('X-Amz-Signature'));
    const status = await finished(r.stdout.trim());
    assert.equal(status.state, 'failed');
    const staged = keyOf(status.spec.image);
    assert.equal(await exists(staged.bucket, staged.key), false, 'the staged image is deleted when the job fails for good');
  });
});
