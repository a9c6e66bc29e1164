import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ThreadPool, bundleImage, unbundle, verifyBundle } from '@bundlefarm/engine';
import { PartMissingError } from '@bundlefarm/errors';
import { buildSignedManifest, ec2CertificateForRegion, manifestName, parseManifest } from '@bundlefarm/format';
import { S3ImageSource, S3PartSink, S3PartSource } from '@bundlefarm/s3';
import { s3Requests } from '@bundlefarm/testkit/fault-proxy.js';
import { sha256File } from '@bundlefarm/testkit/file-hash.js';
import { testIdentity } from '@bundlefarm/testkit/identity.js';
import { pseudoRandom, writeRandomFile } from '@bundlefarm/testkit/images.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';
import { freshBucket, listKeys, quickRetry, testClient, testProxy } from './s3-fixture.js';

const pool = new ThreadPool({ threads: 2 });
after(() => pool.close());

const spec = { accountId: '123456789012', architecture: 'x86_64' };

describe('bundle straight into S3 (two regions), unbundle back from each', () => {
  it('a 25 MiB image round-trips byte for byte through both buckets', async () => {
    const dir = await tempDir();
    const image = join(dir, 'disk.img');
    await writeRandomFile(image, 25 * 1024 * 1024 + 4321, 11);
    // one region direct, the other through a proxy that throws a few faults in
    const proxy = await testProxy({ seed: 3, region: 'eu-west-1' });
    proxy.addFault({ action: { type: 'status', status: 503, code: 'SlowDown' }, match: s3Requests.putObject, times: 2 });
    proxy.addFault({ action: { type: 'drop-request', afterBytes: 1024 * 1024 }, match: s3Requests.putObject, times: 1 });
    const east = { region: 'us-east-1', client: await testClient(), bucket: await freshBucket('east'), prefix: 'amis/2024' };
    const west = {
      region: 'eu-west-1',
      client: await testClient({ endpoint: proxy.endpoint, region: 'eu-west-1' }),
      bucket: await freshBucket('west', { region: 'eu-west-1' }),
      prefix: 'amis/2024',
    };
    const sink = new S3PartSink({ targets: [east, west], retry: quickRetry });

    const result = await bundleImage({ image, pool }, sink);
    assert.equal(result.facts.parts.length, 3);
    assert.deepEqual(sink.healthyRegions(), ['us-east-1', 'eu-west-1']);
    for (const region of sink.healthyRegions()) {
      const signed = buildSignedManifest({ ...spec, name: result.name }, result.facts, result.secret, testIdentity(), ec2CertificateForRegion(region));
      await sink.putManifestFor(region, manifestName(result.name), signed.xml);
    }
    assert.ok(proxy.counters.injectedStatus === 2 && proxy.counters.droppedRequests === 1, JSON.stringify(proxy.counters));

    const expected = await sha256File(image);
    for (const target of [east, west]) {
      const keys = await listKeys(target.client, target.bucket, 'amis/2024/');
      assert.deepEqual(keys, ['disk.img.manifest.xml', 'disk.img.part.0', 'disk.img.part.1', 'disk.img.part.2']);
      const source = new S3PartSource({ client: target.client, bucket: target.bucket, prefix: target.prefix });
      const parsed = parseManifest(await source.readManifest('disk.img.manifest.xml'));
      await verifyBundle({ manifest: parsed, source, certificate: testIdentity().certificate });
      const back = join(dir, `back-${target.region}`);
      const out = await unbundle({ manifest: parsed, privateKey: testIdentity().privateKey, source, destination: back, certificate: testIdentity().certificate });
      assert.equal(await sha256File(out.path), expected, `image back from ${target.region}`);
    }

    // a part gone from a bucket is reported as the engine's PartMissingError
    await east.client.send(new DeleteObjectCommand({ Bucket: east.bucket, Key: 'amis/2024/disk.img.part.1' }));
    const source = new S3PartSource({ client: east.client, bucket: east.bucket, prefix: east.prefix });
    const parsed = parseManifest(await source.readManifest('disk.img.manifest.xml'));
    await assert.rejects(verifyBundle({ manifest: parsed, source }), PartMissingError);
  });

  it('an image read from S3 (S3ImageSource) bundles into S3; a failed bundle leaves nothing', async () => {
    const client = await testClient();
    const bucket = await freshBucket('src');
    const data = pseudoRandom(12 * 1024 * 1024, 5);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'in/root.img', Body: data }));
    const dest = await freshBucket('dest');
    const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket: dest, prefix: '' }] });
    const result = await bundleImage({ image: new S3ImageSource(client, `s3://${bucket}/in/root.img`), pool }, sink);
    assert.equal(result.name, 'root.img');
    assert.equal(result.facts.size, data.length);
    assert.deepEqual(await listKeys(client, dest), ['root.img.part.0', 'root.img.part.1']);

    // the engine aborts the sink when the image cannot be read to the end
    const proxy = await testProxy();
    const flaky = await testClient({ endpoint: proxy.endpoint });
    proxy.addFault({ action: { type: 'drop-response', afterBytes: 0 }, match: (r) => s3Requests.getObject(r) && r.headers.range !== undefined });
    proxy.addFault({ action: { type: 'drop-response', afterBytes: 11 * 1024 * 1024 }, match: s3Requests.getObject, times: 1 });
    const dest2 = await freshBucket('dest');
    const sink2 = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket: dest2, prefix: '' }] });
    await assert.rejects(bundleImage({ image: new S3ImageSource(flaky, `s3://${bucket}/in/root.img`, { retry: quickRetry }), pool }, sink2), /S3 is unavailable/);
    assert.deepEqual(await listKeys(client, dest2), []);
  });
});
