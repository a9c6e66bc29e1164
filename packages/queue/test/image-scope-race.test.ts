/*
 * The image scope holds for the file actually read (security re-review R2). A worker checks a job's
 * image against its principal's scope by name (checkJobScope), then opens it: a symlink swapped in
 * between — in the file's place or a directory's on the way — used to lead the read into an image the
 * principal may not read (another team's, inside the same image root). The race is made deterministic
 * by swapping right after the check passed, in the order the bundle processor calls things: check,
 * resolveImage with the scope of openedImageCheck, open. A rootfs tarball under the image root
 * (`filesystem.from: 'tarball'`) is opened by RootfsInput.open, with the same scope: swapped the same way.
 * (image-scope-worker.test.ts checks that the job processor itself passes the scope.)
 */
import assert from 'node:assert/strict';
import { mkdir, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Job } from 'bullmq';
import { isBundlefarmError } from '@bundlefarm/errors';
import { Principals, validateJobSpec, type BundleJobData } from '@bundlefarm/queue';
import { checkJobScope, openedImageCheck, resolveImage, type RegionClients } from '@bundlefarm/queue/worker';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';
// RootfsInput is the processor's own (not exported by the package): its tarball branch is what is checked
import { RootfsInput, type RootfsInputOptions } from '../src/worker/rootfs-source.js';

const principals = Principals.parse({
  principals: [
    { name: 'team-a', identities: ['nightly'], targets: ['amis/team-a/**'], images: ['team-a/**'] },
    { name: 'team-b', identities: ['nightly'], targets: ['amis/team-b/**'], images: ['team-b/**'] },
  ],
});

async function imageRoot(): Promise<string> {
  const root = join(await realpath(await tempDir()), 'images');
  await mkdir(join(root, 'team-a', 'sub'), { recursive: true });
  await mkdir(join(root, 'team-b', 'sub'), { recursive: true });
  await writeFile(join(root, 'team-a', 'os.img'), 'team-a image');
  await writeFile(join(root, 'team-a', 'sub', 'os.img'), 'team-a image');
  await writeFile(join(root, 'team-b', 'secret.img'), 'TEAM B SECRET');
  await writeFile(join(root, 'team-b', 'sub', 'os.img'), 'TEAM B SECRET');
  return root;
}

function job(image: string): { job: Pick<Job<BundleJobData>, 'id' | 'data'>; spec: BundleJobData['spec'] } {
  const v = validateJobSpec({
    image,
    architecture: 'x86_64',
    accountId: '123456789012',
    identity: 'nightly',
    regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-a/' }],
  });
  assert.ok(v.ok);
  return { job: { id: 'race-1', data: { spec: v.spec, source: 'api', principal: 'team-a' } }, spec: v.spec };
}

/** The processor's order: authorize, then (after whatever happens meanwhile) resolve and open, and read. */
async function authorizeSwapAndRead(root: string, image: string, swap: () => Promise<void>): Promise<string> {
  const config = { principals, jobMacKey: undefined, imageRoot: root };
  const { job: j, spec } = job(image);
  const principal = await checkJobScope(j, spec, config);
  assert.equal(principal, 'team-a', 'the check by name passes: the path is team-a\'s at that moment');
  await swap();
  // clients are used for s3:// images only
  const source = await resolveImage(spec.image, { imageRoot: root, clients: undefined as unknown as RegionClients, imageScope: openedImageCheck(config, principal, spec.image) });
  try {
    const { size } = await source.open();
    const buf = new Uint8Array(size);
    await source.read(0, buf);
    return Buffer.from(buf).toString();
  } finally {
    await source.close();
  }
}

/** The same order for a job with `filesystem.from: 'tarball'`: authorize, swap, then RootfsInput.open as the processor calls it. */
async function authorizeSwapAndOpenTarball(root: string, image: string, swap: () => Promise<void>): Promise<number | undefined> {
  const config = { principals, jobMacKey: undefined, imageRoot: root };
  const { job: j, spec } = job(image);
  assert.equal(await checkJobScope(j, spec, config), 'team-a');
  await swap();
  const input = await RootfsInput.open(spec.image, 'tarball', {
    imageRoot: root,
    clients: undefined as unknown as RootfsInputOptions['clients'], // used for s3:// tarballs only
    imageScope: openedImageCheck(config, 'team-a', spec.image),
  });
  try {
    return input.size;
  } finally {
    await input.close();
  }
}

function outOfScope(err: unknown): boolean {
  assert.ok(isBundlefarmError(err), String(err));
  assert.equal(err.code, 'BF_OUT_OF_SCOPE', err.message);
  assert.match(err.message, /team-b\/.*team-a/);
  assert.ok(!err.message.includes('TEAM B SECRET'));
  return true;
}

describe('image scope against the file opened (TOCTOU)', () => {
  it('the image swapped for a symlink into another team\'s directory after the check: refused, nothing read', async () => {
    const root = await imageRoot();
    await assert.rejects(
      authorizeSwapAndRead(root, 'team-a/os.img', async () => {
        await rm(join(root, 'team-a', 'os.img'));
        await symlink('../team-b/secret.img', join(root, 'team-a', 'os.img'));
      }),
      outOfScope,
    );
  });

  it('a directory on the way swapped for a symlink after the check: refused', async () => {
    const root = await imageRoot();
    await assert.rejects(
      authorizeSwapAndRead(root, 'team-a/sub/os.img', async () => {
        await rename(join(root, 'team-a', 'sub'), join(root, 'team-a', 'sub-old'));
        await symlink(join(root, 'team-b', 'sub'), join(root, 'team-a', 'sub'));
      }),
      outOfScope,
    );
  });

  it('nothing swapped, or a symlink that stays inside the scope: read as before', async () => {
    const root = await imageRoot();
    assert.equal(await authorizeSwapAndRead(root, 'team-a/os.img', async () => {}), 'team-a image');
    assert.equal(
      await authorizeSwapAndRead(root, 'team-a/os.img', async () => {
        await rm(join(root, 'team-a', 'os.img'));
        await symlink('sub/os.img', join(root, 'team-a', 'os.img'));
      }),
      'team-a image',
    );
  });

  it('a symlink out of the scope already there at the check is refused by the check itself', async () => {
    const root = await imageRoot();
    await symlink('../team-b/secret.img', join(root, 'team-a', 'link.img'));
    const { job: j, spec } = job('team-a/link.img');
    await assert.rejects(checkJobScope(j, spec, { principals, jobMacKey: undefined, imageRoot: root }), outOfScope);
  });

  it('a rootfs tarball (filesystem.from tarball) swapped for a symlink into another team\'s directory after the check: refused', async () => {
    const root = await imageRoot();
    await writeFile(join(root, 'team-a', 'root.tar'), 'team-a tarball');
    await writeFile(join(root, 'team-b', 'root.tar'), 'TEAM B SECRET tarball, longer');
    assert.equal(await authorizeSwapAndOpenTarball(root, 'team-a/root.tar', async () => {}), 'team-a tarball'.length, 'unswapped, the tarball opens');
    await assert.rejects(
      authorizeSwapAndOpenTarball(root, 'team-a/root.tar', async () => {
        await rm(join(root, 'team-a', 'root.tar'));
        await symlink('../team-b/root.tar', join(root, 'team-a', 'root.tar'));
      }),
      (err) => outOfScope(err) && /opened as "team-b\/root\.tar"/.test((err as Error).message),
    );
  });
});
