/*
 * The job processor itself checks the image scope on the file it opens (security re-review R2, its
 * wiring): image-scope-race.test.ts calls resolveImage and RootfsInput.open by hand with the scope, so
 * it stays green if the processor stopped passing `imageScope` to them. Here a real worker (in this
 * process, so the swap can be placed; real redis-server, the S3 front) takes a job of principal team-a
 * whose image is swapped for a symlink into team-b's directory after the job passed its scope check by
 * name and before the image is opened.
 *
 * The deterministic point: the processor looks the job's signing identity up
 * (`config.identities.get`) once per attempt, right after checkJobScope accepted the job and before it
 * opens the image (bundle-processor.ts, plan → openImage). The identities map of this worker makes the
 * swap (synchronously) on that lookup. Had the lookup moved before the check, the check by name would
 * refuse instead — with another message ("resolves … through a symlink"), which the test tells apart
 * from the open's ("opened as").
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { validateJobSpec, type BundleJobData, type JobSpecInput } from '@bundlefarm/queue';
import { listKeys } from '@bundlefarm/testkit/s3-objects.js';
// the worker runs in this process (its identities map is the test's): started from the package's source
import { startBundleWorker } from '../src/worker/bundle-worker.js';
import { loadWorkerConfig, type WorkerConfig } from '../src/worker/worker-config.js';
import { createWorkerLogger } from '../src/worker/worker-logger.js';
import { workerEnvironment } from './worker-environment.js';
import { writeJson } from './worker-fixture.js';

type Identities = WorkerConfig['identities'];
type Identity = NonNullable<ReturnType<Identities['get']>>;

/** The worker's identities, with `onLookup` run (once) when the processor first looks one up. */
class IdentitiesWithHook extends Map<string, Identity> {
  lookups = 0;
  constructor(
    identities: Identities,
    private readonly onLookup: () => void,
  ) {
    super(identities);
  }
  override get(name: string): Identity | undefined {
    if (this.lookups++ === 0) this.onLookup();
    return super.get(name);
  }
}

const env = await workerEnvironment();
const bucket = await env.bucket('scope-race');
for (const team of ['team-a', 'team-b']) mkdirSync(join(env.imageRoot, team));
writeFileSync(join(env.imageRoot, 'team-a', 'os.img'), 'team-a image');
writeFileSync(join(env.imageRoot, 'team-a', 'root.tar'), 'team-a tarball');
writeFileSync(join(env.imageRoot, 'team-b', 'secret.img'), 'TEAM B SECRET');
writeFileSync(join(env.imageRoot, 'team-b', 'root.tar'), 'TEAM B SECRET tarball');
const principalsFile = await writeJson(join(env.dir, 'principals.json'), {
  principals: [
    { name: 'team-a', identities: ['release'], targets: [`${bucket}/team-a/**`], images: ['team-a/**'] },
    { name: 'team-b', identities: ['release'], targets: [`${bucket}/team-b/**`], images: ['team-b/**'] },
  ],
});
const config = await loadWorkerConfig({ ...env.workerEnv, BUNDLEFARM_PRINCIPALS_FILE: principalsFile });
/** The swap the running test set up, made right after the job's check by name (see the top of the file). */
let swap: () => void = () => {};
const identities = new IdentitiesWithHook(config.identities, () => swap());
const worker = await startBundleWorker({ ...config, identities }, { logger: createWorkerLogger({ level: 'silent' }) });

describe('the job processor checks the image scope on the file it opens', () => {
  // before the environment's own teardown (Redis, the S3 front) at the end of the file
  after(() => worker.close());

  async function runSwapped(image: string, filesystem: JobSpecInput['filesystem'], swapIt: () => void): Promise<unknown> {
    identities.lookups = 0;
    let swapped = false;
    swap = () => {
      swapIt();
      swapped = true;
    };
    const v = validateJobSpec({
      image,
      architecture: 'x86_64',
      accountId: '123456789012',
      identity: 'release',
      regions: [{ region: 'us-east-1', bucket, prefix: 'team-a/' }],
      ...(filesystem ? { filesystem } : {}),
    });
    assert.ok(v.ok, JSON.stringify(v));
    const data: BundleJobData = { spec: v.spec, source: 'api', principal: 'team-a' };
    const job = await env.queue.add('bundle', data, { attempts: 1 });
    const failure = await job.waitUntilFinished(env.events).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(swapped, 'the swap was made (the processor looked the identity up)');
    return failure;
  }

  function refusedAsOpened(failure: unknown, opened: string): void {
    assert.ok(failure instanceof Error, `the job must fail, it ended with ${String(failure)}`);
    assert.match(failure.message, /BF_OUT_OF_SCOPE/);
    // refused by the check on the opened file, not by the check by name (the swap came after that one)
    assert.ok(failure.message.includes(`opened as ${JSON.stringify(opened)}`), failure.message);
    assert.ok(!failure.message.includes('TEAM B SECRET'));
  }

  it('a disk image swapped for a symlink into another team\'s directory after the check: the job fails, nothing is published', async () => {
    const failure = await runSwapped('team-a/os.img', undefined, () => {
      rmSync(join(env.imageRoot, 'team-a', 'os.img'));
      symlinkSync('../team-b/secret.img', join(env.imageRoot, 'team-a', 'os.img'));
    });
    refusedAsOpened(failure, 'team-b/secret.img');
    assert.deepEqual(await listKeys(env.client, bucket), []);
  });

  it('a rootfs tarball (filesystem.from tarball) swapped the same way: the job fails, nothing is published', async () => {
    const failure = await runSwapped('team-a/root.tar', { from: 'tarball' }, () => {
      rmSync(join(env.imageRoot, 'team-a', 'root.tar'));
      symlinkSync('../team-b/root.tar', join(env.imageRoot, 'team-a', 'root.tar'));
    });
    refusedAsOpened(failure, 'team-b/root.tar');
    assert.deepEqual(await listKeys(env.client, bucket), []);
  });
});
