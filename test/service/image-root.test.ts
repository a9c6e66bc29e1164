import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Job } from 'bullmq';
import { jobOptions, type BundleJobData, type BundleJobResult } from '@bundlefarm/queue';
import { randomIslands, writeSparseImage } from '../helpers/images.js';
import { serviceEnvironment, specFor, until } from './service-environment.js';

/**
 * Local images under the image root, hostile ones included, at the API and at a worker process (jobs
 * put straight into the queue, as anything with access to Redis — or Bull Board — can, so the API's own
 * check is bypassed). Everything real: redis-server, s3rver, the API, one worker process with one job
 * slot: a job that wedged it would keep the next job from ever running.
 *
 * - a FIFO (no writer), a unix socket and a device node are refused at once, and the worker goes on
 *   to its next job;
 * - a path that leads out of the root through a symlink fails exactly as a missing path does;
 * - a sparse image is scanned through the descriptor the worker opened and checked (SEEK_DATA).
 */
const env = await serviceEnvironment({ worker: { concurrency: 1 } });
const worker = await env.startWorker();

const SLOW = { timeout: 120_000 };
const outside = join(env.dir, 'outside');
await mkdir(outside);
await writeFile(join(outside, 'secret.img'), 'not yours');
await symlink(join(outside, 'secret.img'), join(env.imageRoot, 'escape.img'));
await symlink(join(outside, 'nothing-here.img'), join(env.imageRoot, 'escape-missing.img'));
await symlink('/', join(env.imageRoot, 'rootlink'));
await symlink('../outside', join(env.imageRoot, 'updir'));

// the special files: a FIFO nobody writes to, a listening unix socket, a character device (when allowed)
assert.equal(spawnSync('mkfifo', [join(env.imageRoot, 'fifo.img')]).status, 0, 'mkfifo');
const socketServer: Server = createServer();
await new Promise<void>((resolve) => socketServer.listen(join(env.imageRoot, 'socket.img'), resolve));
after(() => socketServer.close());
const specials: Array<{ file: string; kind: string }> = [
  { file: 'fifo.img', kind: 'a FIFO' },
  { file: 'socket.img', kind: 'a socket' },
];
const mknod = spawnSync('mknod', [join(env.imageRoot, 'device.img'), 'c', '1', '3']);
if (mknod.status === 0) specials.push({ file: 'device.img', kind: 'a character device' });
else console.log(`# device node not tested: mknod is not permitted here (${mknod.stderr.toString().trim()})`);

function spec(image: string, bucket: string, name = 'img'): Record<string, unknown> {
  return specFor([{ region: 'us-east-1', bucket, prefix: 'img/' }], { image, name, level: 1 });
}

/** A job straight into the queue (the API never sees it); resolves once it finished. */
async function injected(s: Record<string, unknown>): Promise<Job<BundleJobData, BundleJobResult>> {
  const job = await env.queue.add('img', { spec: s as unknown as BundleJobData['spec'], source: 'test' }, jobOptions({ attempts: 3, backoffMs: 200 }));
  return until(`job ${job.id} to finish`, async () => {
    const fresh = await Job.fromId<BundleJobData, BundleJobResult>(env.queue, job.id!);
    return fresh?.finishedOn ? fresh : undefined;
  }, 90_000, 100);
}

/** `text` with `path` taken out: what is left is the message's shape. */
const shape = (text: string, path: string): string => text.split(path).join('<path>');

describe('special files under the image root', SLOW, () => {
  it('the API refuses a FIFO, a socket and a device node at once (400 BF_FILE_UNREADABLE, not a regular file)', SLOW, async () => {
    const bucket = await env.bucket('special-api');
    const jobs = await env.jobCount();
    for (const { file, kind } of specials) {
      const r = await env.api('POST', '/v1/bundles', spec(file, bucket));
      assert.equal(r.status, 400, `${file}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error, 'BF_FILE_UNREADABLE');
      assert.equal(r.json.message, `cannot read ${file}: not a regular file (${kind})`);
    }
    assert.equal(await env.jobCount(), jobs, 'nothing queued');
  });

  it('a worker refuses each at once when it bypasses the API, and then takes and completes its next job', SLOW, async () => {
    const bucket = await env.bucket('special-worker');
    for (const { file, kind } of specials) {
      // one job slot: had the special file wedged it, the normal job after it would never run
      const bad = await injected(spec(file, bucket));
      assert.equal(await bad.getState(), 'failed');
      assert.equal(bad.failedReason, `BF_FILE_UNREADABLE: cannot read ${file}: not a regular file (${kind})`);
      assert.equal(bad.attemptsMade, 1, 'permanent: not retried, not handed to another worker');
      const next = await injected(spec(env.image.path, bucket, `after-${file}`));
      assert.equal(await next.getState(), 'completed', `the job after ${file}: ${next.failedReason}`);
    }
  });
});

describe('paths out of the root through symlinks', SLOW, () => {
  it('fail exactly like a missing path, at the API and in job errors: no existence oracle outside the root', SLOW, async () => {
    const bucket = await env.bucket('oracle');
    const missing = 'no-such.img';
    const escaping = ['escape.img', 'escape-missing.img', 'rootlink/etc/passwd', 'rootlink/etc/no-such-file', 'updir/secret.img'];
    const api = async (image: string) => {
      const r = await env.api('POST', '/v1/bundles', spec(image, bucket));
      assert.equal(r.status, 400, `${image}: ${JSON.stringify(r.json)}`);
      return { error: r.json.error, message: shape(r.json.message, image), details: { ...r.json.details, path: '<path>' } };
    };
    const reference = await api(missing);
    assert.deepEqual(reference.error, 'BF_FILE_UNREADABLE');
    assert.equal(reference.message, 'cannot read <path>: ENOENT (no such file or directory)');
    for (const image of escaping) assert.deepEqual(await api(image), reference, image);

    const job = async (image: string) => {
      const done = await injected(spec(image, bucket));
      assert.equal(await done.getState(), 'failed');
      return { reason: shape(done.failedReason, image), attempts: done.attemptsMade };
    };
    const jobReference = await job(missing);
    assert.deepEqual(jobReference, { reason: 'BF_FILE_UNREADABLE: cannot read <path>: ENOENT (no such file or directory)', attempts: 1 });
    for (const image of escaping) assert.deepEqual(await job(image), jobReference, image);
  });
});

describe('sparse images', SLOW, () => {
  it('are scanned with SEEK_DATA through the descriptor the worker opened and checked', SLOW, async () => {
    const bucket = await env.bucket('sparse');
    const size = 96 * 1024 * 1024;
    await writeSparseImage(join(env.imageRoot, 'sparse.img'), size, randomIslands(size, 6, 80_000));
    const done = await injected(spec('sparse.img', bucket));
    assert.equal(await done.getState(), 'completed', done.failedReason);
    const line = worker.output().split('\n').find((l) => l.includes(`"jobId":"${done.id}"`) && l.includes('"msg":"bundled"'));
    assert.ok(line, 'the worker logged the bundle');
    const bundled = JSON.parse(line) as { sparse: boolean; sparseScan?: string };
    assert.equal(bundled.sparse, true, 'bundled as a sparse member');
    assert.equal(bundled.sparseScan, 'seek-data', 'the filesystem was asked through the open descriptor, not the file re-read by name');
    assert.ok(done.returnvalue.bundledSize < 4 * 1024 * 1024, `holes were left out (${done.returnvalue.bundledSize} bytes bundled)`);
  });
});
