import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CreateBucketCommand, GetBucketLocationCommand, GetObjectCommand, HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { bucketIn, client, frontServer, send } from './front-fixture.js';

/*
 * A bucket lives in one region and is reached at that region's endpoint, signed for that region — as
 * at S3, which answers a request for the wrong region's endpoint with 301 PermanentRedirect (400 for
 * regions launched after March 2019), and a signature scoped to the wrong region with 400
 * AuthorizationHeaderMalformed naming the bucket's region; HEAD answers carry the region in
 * `x-amz-bucket-region`. GetBucketLocation tells the truth, and CreateBucket follows S3's
 * LocationConstraint rules.
 */
describe('the S3 front: regions', () => {
  it('a request signed for another region → 400 AuthorizationHeaderMalformed naming the bucket’s region (HEAD: in x-amz-bucket-region)', async () => {
    const s3 = await frontServer();
    const bucket = await bucketIn('eu-west-1');
    const wrong = await send({ method: 'GET', url: `${s3.endpointFor('eu-west-1')}/${bucket}?list-type=2`, region: 'us-east-1' });
    assert.deepEqual([wrong.status, wrong.error?.Code, wrong.error?.Region], [400, 'AuthorizationHeaderMalformed', 'eu-west-1']);
    assert.equal(wrong.error?.Message, "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'");
    const head = await send({ method: 'HEAD', url: `${s3.endpointFor('eu-west-1')}/${bucket}`, region: 'us-east-1' });
    assert.deepEqual([head.status, head.headers['x-amz-bucket-region'], head.body.length], [400, 'eu-west-1', 0]);
    const right = await send({ method: 'GET', url: `${s3.endpointFor('eu-west-1')}/${bucket}?list-type=2`, region: 'eu-west-1' });
    assert.equal(right.status, 200);
    // presigned: the same check, S3's query-string error
    const url = await getSignedUrl(await client('us-east-1', { endpoint: s3.endpointFor('eu-west-1') }), new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
    const presigned = await fetch(url);
    assert.equal(presigned.status, 400);
    assert.match(await presigned.text(), /<Code>AuthorizationQueryParametersError<\/Code><Message>Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; expecting 'eu-west-1'<\/Message><Region>eu-west-1<\/Region>/);
  });

  it('a path-style request at another region’s endpoint → 301 PermanentRedirect (400 for regions launched after March 2019)', async () => {
    const s3 = await frontServer();
    const bucket = await bucketIn('eu-west-1');
    const moved = await send({ method: 'GET', url: `${s3.endpoint}/${bucket}/k`, region: 'eu-west-1' });
    assert.deepEqual([moved.status, moved.error?.Code, moved.error?.Bucket, moved.headers['x-amz-bucket-region']], [301, 'PermanentRedirect', bucket, 'eu-west-1']);
    assert.equal(moved.error?.Endpoint, new URL(s3.endpointFor('eu-west-1')).host);
    // before any signature check: an unsigned request is redirected too
    assert.equal((await send({ method: 'GET', url: `${s3.endpoint}/${bucket}/k`, sign: false })).status, 301);
    const headBucket = await send({ method: 'HEAD', url: `${s3.endpoint}/${bucket}` });
    assert.deepEqual([headBucket.status, headBucket.headers['x-amz-bucket-region']], [301, 'eu-west-1']);
    const capeTown = await bucketIn('af-south-1');
    const refused = await send({ method: 'GET', url: `${s3.endpoint}/${capeTown}/k`, region: 'af-south-1' });
    assert.deepEqual([refused.status, refused.error?.Code, refused.headers['x-amz-bucket-region']], [400, 'IllegalLocationConstraintException', 'af-south-1']);
  });

  it('GetBucketLocation tells the bucket’s region, from its own endpoint or us-east-1’s; HeadBucket names it', async () => {
    const east = await client('us-east-1');
    const west = await client('eu-west-1');
    const westBucket = await bucketIn('eu-west-1');
    const eastBucket = await bucketIn('us-east-1');
    assert.equal((await east.send(new GetBucketLocationCommand({ Bucket: westBucket }))).LocationConstraint, 'eu-west-1');
    assert.equal((await west.send(new GetBucketLocationCommand({ Bucket: westBucket }))).LocationConstraint, 'eu-west-1');
    assert.equal((await east.send(new GetBucketLocationCommand({ Bucket: eastBucket }))).LocationConstraint, undefined, 'us-east-1 is the empty constraint');
    assert.equal((await west.send(new HeadBucketCommand({ Bucket: westBucket }))).BucketRegion, 'eu-west-1');
  });

  it('CreateBucket: at the region’s endpoint with its LocationConstraint; another constraint → IllegalLocationConstraintException; a name taken by another account → 409', async () => {
    const s3 = await frontServer();
    const west = await client('eu-west-1');
    const east = await client('us-east-1');
    const name = `made-${randomBytes(4).toString('hex')}`;
    await west.send(new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    assert.equal(s3.front.bucketRegion(name), 'eu-west-1');
    await west.send(new PutObjectCommand({ Bucket: name, Key: 'k', Body: 'x' }));
    const elsewhere = `made-${randomBytes(4).toString('hex')}`;
    const wrong = await send({
      method: 'PUT',
      url: `${s3.endpoint}/${elsewhere}`,
      body: '<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>',
    });
    assert.deepEqual([wrong.status, wrong.error?.Code], [400, 'IllegalLocationConstraintException']);
    const unspecified = await send({ method: 'PUT', url: `${s3.endpointFor('eu-west-1')}/${elsewhere}`, region: 'eu-west-1' });
    assert.deepEqual([unspecified.status, unspecified.error?.Code], [400, 'IllegalLocationConstraintException']);
    const explicitEast = await send({
      method: 'PUT',
      url: `${s3.endpoint}/${elsewhere}`,
      body: '<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>',
    });
    assert.deepEqual([explicitEast.status, explicitEast.error?.Code], [400, 'InvalidLocationConstraint']);
    // us-east-1 answers its owner's repeated CreateBucket with 200; another account's with 409
    const eastName = `made-${randomBytes(4).toString('hex')}`;
    await east.send(new CreateBucketCommand({ Bucket: eastName }));
    await east.send(new CreateBucketCommand({ Bucket: eastName }));
    s3.front.addCredentials({ accessKeyId: 'AKIAOTHERACCOUNT0001', secretAccessKey: 'other-secret', account: 'someone-else' });
    const taken = await send({ method: 'PUT', url: `${s3.endpoint}/${eastName}`, sign: { accessKeyId: 'AKIAOTHERACCOUNT0001', secretAccessKey: 'other-secret' } });
    assert.deepEqual([taken.status, taken.error?.Code], [409, 'BucketAlreadyExists']);
    const ownedWest = await send({ method: 'PUT', url: `${s3.endpointFor('eu-west-1')}/${name}`, region: 'eu-west-1', body: '<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>' });
    assert.deepEqual([ownedWest.status, ownedWest.error?.Code], [409, 'BucketAlreadyOwnedByYou']);
  });
});
