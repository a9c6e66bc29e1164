import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { assertOneLineError, bundlefarm } from '../helpers/cli.js';
import { Ec2StandIn, s3ManifestReader, type ManifestLookup } from '../helpers/ec2-standin/index.js';
import { GOV_REGION as GOV } from '../helpers/environment-setup.js';
import { serviceEnvironment, specFor, TOKEN, until, type WorkerProcess } from '../service/service-environment.js';

/**
 * A job that registers its bundle as an AMI in two regions, the whole service real (Redis, the S3 front,
 * the API, worker processes with a 3 s job lock) and EC2 played by the tests' EC2 STAND-IN (one per
 * region; test/helpers/ec2-standin — not EC2, a loopback server following AWS's documented rules, as
 * EC2 cannot be reached from here).
 *
 * The worker is SIGKILLed at the worst moment: us-east-1 is registered and recorded, and the GovCloud
 * RegisterImage has taken effect at EC2 but its answer never reaches the worker. Another worker takes
 * the job over: it does not bundle again, does not touch us-east-1's AMI, and adopts the GovCloud image
 * (found by name and manifest location) instead of registering a second one. The job ends with two AMI
 * ids, exactly one RegisterImage per region, and the API and `bundlefarm status` show them.
 */
const LOCK_MS = 3_000;
let readManifest: ((bucket: string, key: string, region: string) => Promise<ManifestLookup>) | undefined;
const lookup = (bucket: string, key: string, region: string): Promise<ManifestLookup> => readManifest!(bucket, key, region);

/** The GovCloud RegisterImage answer is held until the test lets it go (the worker is dead by then). */
let releaseGov: () => void = () => {};
const govHeld = new Promise<void>((resolve) => (releaseGov = resolve));
let govRegisterArrived: () => void = () => {};
const govRegistered = new Promise<void>((resolve) => (govRegisterArrived = resolve));

const east = await Ec2StandIn.start({ region: 'us-east-1', readManifest: lookup });
const gov = await Ec2StandIn.start({
  region: GOV,
  readManifest: lookup,
  beforeAnswer: async (r) => {
    if (r.action === 'RegisterImage' && r.imageId !== undefined && gov.calls('RegisterImage').length === 1) {
      govRegisterArrived();
      await govHeld;
    }
  },
});
after(async () => {
  releaseGov();
  await east.close();
  await gov.close();
});
const env = await serviceEnvironment({
  worker: {
    lockDurationMs: LOCK_MS,
    ec2: { maxAttempts: 1, regions: { 'us-east-1': { endpoint: east.endpoint }, [GOV]: { endpoint: gov.endpoint } } },
  },
});
readManifest = s3ManifestReader(env.s3.front);

const SLOW = { timeout: 150_000 };

function logLines(id: string, workers: readonly WorkerProcess[], msg: string): string[] {
  const line = new RegExp(`"jobId":"${id}".*"msg":"${msg}`);
  return workers.flatMap((w) => w.output().split('\n').filter((l) => line.test(l)));
}

describe('registering AMIs in two regions, the worker killed after registering one (EC2 stand-in)', SLOW, () => {
  it('ends with two AMI ids and exactly one RegisterImage per region; the takeover neither bundles nor registers again', SLOW, async () => {
    const eastBucket = await env.bucket('reg-east');
    const govBucket = await env.bucket('reg-gov', GOV);
    const workers = await Promise.all([env.startWorker(), env.startWorker()]);
    try {
      const spec = specFor(
        [
          { region: 'us-east-1', bucket: eastBucket, prefix: 'os', register: { name: 'os 1.0 (east)', description: 'built by bundlefarm', virtualizationType: 'paravirtual' } },
          { region: GOV, bucket: govBucket, register: { name: 'os 1.0 (gov)', blockDeviceMappings: [{ virtual: 'ephemeral0', device: 'sdb' }] } },
        ],
        { name: 'reg-os', level: 1 },
      );
      const posted = await env.api('POST', '/v1/bundles', spec);
      assert.equal(posted.status, 202, JSON.stringify(posted.json));
      const id = String(posted.json.id);

      await govRegistered;
      const owner = workers.find((w) => logLines(id, [w], 'region registered').length > 0);
      assert.ok(owner, 'a worker registered us-east-1');
      const survivor = workers.find((w) => w !== owner)!;
      await owner.stop('SIGKILL');
      releaseGov();
      assert.equal(gov.liveImages().length, 1, 'the GovCloud image exists at EC2; the worker never learned its id');

      const done = await until(
        'the job to finish',
        async () => {
          const s = await env.api('GET', `/v1/bundles/${id}`);
          return s.json.finished ? s.json : undefined;
        },
        120_000,
        100,
      );
      assert.equal(done.state, 'completed', JSON.stringify(done.error));

      // exactly one image per region, and the job's ids are theirs
      assert.equal(east.calls('RegisterImage').length, 1);
      assert.equal(gov.calls('RegisterImage').length, 1);
      const [eastImage] = east.liveImages();
      const [govImage] = gov.liveImages();
      assert.equal(east.liveImages().length, 1);
      assert.equal(gov.liveImages().length, 1);
      assert.deepEqual(
        done.regions.map((r: { region: string; imageId?: string; imageName?: string; manifestKey?: string }) => [r.region, r.imageId, r.imageName, r.manifestKey]),
        [
          ['us-east-1', eastImage!.imageId, 'os 1.0 (east)', 'os/reg-os.manifest.xml'],
          [GOV, govImage!.imageId, 'os 1.0 (gov)', 'reg-os.manifest.xml'],
        ],
      );
      assert.equal(done.result.regions['us-east-1'].imageId, eastImage!.imageId);
      assert.equal(done.result.regions[GOV].imageId, govImage!.imageId);

      // the exact requests: what the spec asked for, the manifest each region published
      const { Action: _a, Version: _v, ...eastParams } = east.calls('RegisterImage')[0]!.params;
      assert.deepEqual(eastParams, {
        ImageLocation: `${eastBucket}/os/reg-os.manifest.xml`,
        Name: 'os 1.0 (east)',
        Description: 'built by bundlefarm',
        Architecture: 'x86_64',
        VirtualizationType: 'paravirtual',
      });
      const { Action: _b, Version: _w, ...govParams } = gov.calls('RegisterImage')[0]!.params;
      assert.deepEqual(govParams, {
        ImageLocation: `${govBucket}/reg-os.manifest.xml`,
        Name: 'os 1.0 (gov)',
        Architecture: 'x86_64',
        'BlockDeviceMapping.1.DeviceName': 'sdb',
        'BlockDeviceMapping.1.VirtualName': 'ephemeral0',
      });
      // us-east-1's recorded id was trusted (no second look-up); GovCloud's image was looked up again and adopted
      assert.equal(east.calls('DescribeImages').length, 1);
      assert.equal(gov.calls('DescribeImages').length, 2);
      const adopted = logLines(id, [survivor], 'region registered');
      assert.equal(adopted.length, 1);
      assert.match(adopted[0]!, /"region":"us-gov-west-1".*"adopted":true/);
      assert.equal(logLines(id, [survivor], 'bundled').length, 0, 'the takeover did not bundle again');
      assert.equal(logLines(id, [survivor], 'region published').length, 0, 'nor publish again');

      // what a CI script sees
      const status = await bundlefarm(['status', id], { env: { BUNDLEFARM_API_URL: env.url, BUNDLEFARM_API_TOKEN: TOKEN } });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`^us-east-1: AMI ${eastImage!.imageId} \\(os 1\\.0 \\(east\\)\\)$`, 'm'));
      assert.match(status.stdout, new RegExp(`^us-gov-west-1: AMI ${govImage!.imageId} \\(os 1\\.0 \\(gov\\)\\)$`, 'm'));
      await survivor.stop('SIGTERM');
    } finally {
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    }
  });

  it('a name another image holds fails the region with BF_AMI_NAME_TAKEN; the bundle stays published, nothing is registered twice', SLOW, async () => {
    const bucket = await env.bucket('reg-taken');
    const taken = east.liveImages()[0]!;
    const worker = await env.startWorker();
    try {
      const posted = await env.api('POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket, register: { name: taken.name } }], { name: 'reg-taken', level: 1 }));
      assert.equal(posted.status, 202, JSON.stringify(posted.json));
      const id = String(posted.json.id);
      const done = await until('the job to finish', async () => {
        const s = await env.api('GET', `/v1/bundles/${id}`);
        return s.json.finished ? s.json : undefined;
      });
      assert.equal(done.state, 'failed');
      assert.equal(done.error.code, 'BF_AMI_NAME_TAKEN');
      assert.equal(done.attempts.made, 1, 'permanent: not retried');
      assert.equal(done.regions[0].manifestKey, 'reg-taken.manifest.xml', 'the bundle is published');
      assert.equal(done.regions[0].imageId, undefined);
      assert.equal(done.regions[0].error.code, 'BF_AMI_NAME_TAKEN');
      assert.equal(east.calls('RegisterImage').length, 1, 'no RegisterImage for a name in use');
      const status = await bundlefarm(['status', id], { env: { BUNDLEFARM_API_URL: env.url, BUNDLEFARM_API_TOKEN: TOKEN } });
      assertOneLineError(status, 'BF_AMI_NAME_TAKEN', new RegExp(`already in use by ${taken.imageId}`));
    } finally {
      await worker.stop('SIGKILL');
    }
  });
});
