import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { parseManifest } from '@bundlefarm/format';
import { Queue } from 'bullmq';
import { BUNDLE_QUEUE, hashToken } from '@bundlefarm/queue';
import { SCRATCH_PREFIX } from '@bundlefarm/rootfs';
import { apiRequest, type ApiResponse } from '../helpers/api-request.js';
import { bundlefarm } from '../helpers/cli.js';
import { fsckClean, readImage } from '../helpers/ext4-image.js';
import { sha256File } from '../helpers/file-hash.js';
import { writeIdentity } from '../helpers/identity.js';
import { needsTools } from '../helpers/requirements.js';
import { getObject, listKeys } from '../helpers/s3-objects.js';
import { ACCOUNT, serviceProcesses, until } from '../helpers/service-processes.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Jobs that build their filesystem on the worker, every part a real process: redis-server, the S3
 * front, the API and worker processes (with a principals file), e2fsprogs and zstd.
 *
 * - a job from an `s3://` rootfs tarball (.tar.zst) lands a bundle that unbundles to a filesystem
 *   e2fsck finds clean, with the tarball's files (content, owner, mode, link) read back by debugfs;
 * - a job from a root tree under the image root, with an explicit size;
 * - a worker killed (SIGKILL) in the middle of a build leaves its scratch behind, and the next worker's
 *   next job removes it;
 * - a job whose image cannot fit the worker's scratch limit fails at once (BF_SCRATCH_LIMIT, not
 *   retried) before any target is looked at and before a scratch directory is made;
 * - a tarball or tree outside the caller's scope is 403 at the API, and nothing is queued.
 */
const skip = needsTools(['mke2fs', 'debugfs', 'e2fsck', 'resize2fs', 'tune2fs', 'dumpe2fs', 'getfattr', 'zstd', 'tar', 'stdbuf'], 'apt-get install e2fsprogs attr zstd tar coreutils');
const SLOW = { timeout: 240_000, skip };
const SCRATCH_LIMIT = 256 * 1024 * 1024;
const TOKENS = { a: `team-a-${randomBytes(18).toString('base64url')}` };

const env = await serviceProcesses({
  workers: skip ? 0 : 1,
  workerConfig: { scratch: { dir: 'scratch', maxBytes: SCRATCH_LIMIT }, lockDurationMs: 4_000 },
  principals: {
    principals: [
      { name: 'team-a', tokenHashes: [hashToken(TOKENS.a)], identities: ['release'], targets: ['amis/team-a/**'], images: ['team-a/**', 's3://images/team-a/**'] },
    ],
  },
  images: async (root) => {
    await mkdir(join(root, 'team-a'));
    await mkdir(join(root, 'team-b'));
  },
});
const scratch = join(env.dir, 'scratch');
const user = await writeIdentity(await tempDir('bundlefarm-rootfs-user-'), env.user);
if (!skip) {
  await env.s3.createBucket('amis');
  await env.s3.createBucket('images');
}

const api = (method: string, path: string, body?: unknown): Promise<ApiResponse> => apiRequest(env.api.url, TOKENS.a, method, path, body);

function spec(image: string, name: string, filesystem: Record<string, unknown>): Record<string, unknown> {
  return {
    name,
    image,
    filesystem,
    architecture: 'x86_64',
    accountId: ACCOUNT,
    identity: 'release',
    regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-a/' }],
    level: 1,
  };
}

interface Status {
  state: string;
  finished: boolean;
  error: { code: string; message: string } | null;
  attempts: { made: number };
  regions: Array<{ manifestKey?: string }>;
}

async function enqueued(body: Record<string, unknown>): Promise<string> {
  const r = await api('POST', '/v1/bundles', body);
  assert.equal(r.status, 202, JSON.stringify(r.json));
  return (r.json as { id: string }).id;
}

async function finished(id: string, timeoutMs = 180_000): Promise<Status> {
  return until(`job ${id} to finish`, async () => {
    const r = await api('GET', `/v1/bundles/${id}`);
    const s = r.json as Status;
    return s.finished ? s : undefined;
  }, timeoutMs, 200);
}

/** The bundle's manifest and parts fetched from S3, verified and unbundled with the CLI: the image's path. */
async function unbundled(manifestKey: string): Promise<string> {
  const dir = await tempDir('bundlefarm-rootfs-back-');
  const xml = await getObject(env.client, 'amis', manifestKey);
  const manifestFile = join(dir, 'bundle.manifest.xml');
  await writeFile(manifestFile, xml);
  const folder = manifestKey.slice(0, manifestKey.lastIndexOf('/') + 1);
  const image = parseManifest(xml).manifest.image;
  for (const part of image.parts) await writeFile(join(dir, part.filename), await getObject(env.client, 'amis', folder + part.filename));
  const out = join(dir, 'out');
  await mkdir(out);
  const r = await bundlefarm(['unbundle', '-m', manifestFile, '-k', user.key, '-c', user.cert, '-d', out]);
  assert.equal(r.code, 0, r.stderr);
  return join(out, image.name);
}

/** A small root tree: files (one setuid, one owned by 1234:5678 when root runs this), a symlink, a hard link, a directory. */
async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'usr/bin'), { recursive: true });
  await mkdir(join(root, 'srv/data'), { recursive: true });
  await writeFile(join(root, 'etc/motd'), 'built on the farm\n');
  await writeFile(join(root, 'etc/hostname'), 'farm\n');
  await writeFile(join(root, 'usr/bin/tool'), randomBytes(200_000), { mode: 0o4755 });
  spawnSync('chmod', ['4755', join(root, 'usr/bin/tool')]);
  spawnSync('ln', [join(root, 'usr/bin/tool'), join(root, 'usr/bin/tool-again')]);
  await symlink('../etc/motd', join(root, 'srv/motd'));
  await writeFile(join(root, 'srv/data/owned'), 'numeric owner\n');
  if (process.getuid?.() === 0) spawnSync('chown', ['1234:5678', join(root, 'srv/data/owned')]);
  await utimes(join(root, 'etc/motd'), 1_700_000_000, 1_700_000_000);
}

function makeTarball(tree: string, file: string): void {
  const r = spawnSync('sh', ['-c', `tar --numeric-owner --xattrs -C '${tree}' -cf - . | zstd -q -c > '${file}'`]);
  assert.equal(r.status, 0, r.stderr.toString());
}

const queue = new Queue(BUNDLE_QUEUE, { connection: { host: '127.0.0.1', port: env.redis.port }, prefix: env.prefix });
after(() => queue.close());

async function jobCount(): Promise<number> {
  return Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0);
}

async function scratchEntries(): Promise<string[]> {
  return (await readdir(scratch).catch(() => [] as string[])).filter((n) => n.startsWith(SCRATCH_PREFIX));
}

describe('jobs that build their filesystem on the worker', SLOW, () => {
  it('an s3:// rootfs tarball (.tar.zst) becomes a bundle that unbundles to a clean ext4 filesystem with its files', SLOW, async () => {
    const dir = await tempDir('bundlefarm-rootfs-src-');
    const tree = join(dir, 'tree');
    await makeTree(tree);
    const tarball = join(dir, 'rootfs.tar.zst');
    makeTarball(tree, tarball);
    await env.client.send(new PutObjectCommand({ Bucket: 'images', Key: 'team-a/rootfs.tar.zst', Body: await readFile(tarball) }));

    const id = await enqueued(spec('s3://images/team-a/rootfs.tar.zst', 'from-s3', { from: 'tarball', label: 'farmroot', fstab: 'generate' }));
    const done = await finished(id);
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    const manifestKey = done.regions[0]!.manifestKey!;
    assert.equal(manifestKey, 'team-a/from-s3.manifest.xml');

    const image = await unbundled(manifestKey);
    const fsck = await fsckClean(image);
    assert.ok(fsck.clean, fsck.output);
    const img = await readImage(image, { hash: true });
    assert.equal(img.get('etc/motd')!.sha256, await sha256File(join(tree, 'etc/motd')));
    assert.equal(img.get('etc/motd')!.mtime, 1_700_000_000);
    assert.equal(img.get('usr/bin/tool')!.sha256, await sha256File(join(tree, 'usr/bin/tool')));
    assert.equal(img.get('usr/bin/tool')!.mode, 0o4755);
    assert.equal(img.get('usr/bin/tool')!.inode, img.get('usr/bin/tool-again')!.inode, 'the hard link is one inode');
    assert.equal(img.get('srv/motd')!.target, '../etc/motd');
    if (process.getuid?.() === 0) assert.deepEqual([img.get('srv/data/owned')!.uid, img.get('srv/data/owned')!.gid], [1234, 5678]);
    // the generated fstab names the filesystem's own UUID; the label is the one asked for
    const head = spawnSync('dumpe2fs', ['-h', image], { encoding: 'utf8' }).stdout;
    const uuid = /^Filesystem UUID:\s+(\S+)/m.exec(head)?.[1];
    assert.match(head, /^Filesystem volume name:\s+farmroot$/m);
    assert.ok(img.has('etc/fstab'));
    const fstab = spawnSync('debugfs', ['-R', 'cat /etc/fstab', image], { encoding: 'utf8' }).stdout;
    assert.ok(uuid && fstab.includes(`UUID=${uuid}`), fstab);
    // the worker said it built a filesystem, and left nothing in its scratch space
    assert.match(env.workers[0]!.output(), /"msg":"filesystem built"/);
    assert.deepEqual(await scratchEntries(), []);
  });

  it('a root tree under the image root, with an explicit size', SLOW, async () => {
    await makeTree(join(env.imageRoot, 'team-a/tree'));
    const id = await enqueued(spec('team-a/tree', 'from-tree', { from: 'tree', sizeMiB: 48 }));
    const done = await finished(id);
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    const image = await unbundled(done.regions[0]!.manifestKey!);
    assert.ok((await fsckClean(image)).clean);
    const size = Number(spawnSync('stat', ['-c', '%s', image], { encoding: 'utf8' }).stdout.trim());
    assert.equal(size, 48 * 1024 * 1024, 'the size asked for');
    const img = await readImage(image, { hash: true });
    assert.equal(img.get('etc/hostname')!.sha256, await sha256File(join(env.imageRoot, 'team-a/tree/etc/hostname')));
    assert.equal(img.get('srv/motd')!.target, '../etc/motd');
  });

  it('a job that cannot fit the scratch limit fails at once, before any target is looked at or scratch is made', SLOW, async () => {
    await makeTree(join(env.imageRoot, 'team-a/small'));
    const before = await listKeys(env.client, 'amis', 'team-a/too-big');
    const id = await enqueued(spec('team-a/small', 'too-big', { from: 'tree', sizeMiB: 512 }));
    const done = await finished(id);
    assert.equal(done.state, 'failed');
    assert.equal(done.error?.code, 'BF_SCRATCH_LIMIT');
    assert.match(done.error.message, /an image of 512 MiB .*more than the 268435456 bytes of scratch space/);
    assert.equal(done.attempts.made, 1, 'permanent: not retried');
    const lines = env.workers[0]!.output().split('\n').filter((l) => l.includes(`"jobId":"${id}"`));
    assert.ok(!lines.some((l) => /preflight done|filesystem built/.test(l)), lines.join('\n'));
    assert.deepEqual(await listKeys(env.client, 'amis', 'team-a/too-big'), before);
    assert.deepEqual(await scratchEntries(), []);
  });

  it('a worker killed while it builds leaves its scratch; the next job of the next worker removes it', SLOW, async () => {
    // enough entries for the build to take a while
    const tree = join(await tempDir('bundlefarm-rootfs-many-'), 'tree');
    await makeTree(tree);
    for (let d = 0; d < 40; d++) {
      await mkdir(join(tree, `var/lib/many/${d}`), { recursive: true });
      await Promise.all(Array.from({ length: 150 }, (_, f) => writeFile(join(tree, `var/lib/many/${d}/${f}`), randomBytes(2048))));
    }
    makeTarball(tree, join(env.imageRoot, 'team-a/many.tar.zst'));
    const worker = env.workers[0]!;
    const id = await enqueued(spec('team-a/many.tar.zst', 'killed', { from: 'tarball' }));
    const left = await until('the build to have started in scratch', async () => {
      for (const name of await scratchEntries()) {
        if ((await readdir(join(scratch, name)).catch(() => [] as string[])).includes('image.img')) return name;
      }
      return undefined;
    }, 60_000, 5);
    await worker.stop('SIGKILL');
    assert.ok((await scratchEntries()).includes(left), 'a killed worker cannot clean up: its scratch is still there');

    const next = await env.startWorker();
    // the killed job comes back (stalled) to the new worker, or a new one is taken: either starts by cleaning
    const after = await enqueued(spec('team-a/tree', 'after-kill', { from: 'tree' }));
    const doneAfter = await finished(after);
    assert.equal(doneAfter.state, 'completed', JSON.stringify(doneAfter.error));
    assert.ok(!(await scratchEntries()).includes(left), 'the dead worker\'s scratch is gone');
    const removal = next.output().split('\n').find((l) => l.includes('removed scratch left by a worker that died'));
    assert.ok(removal?.includes(left), `the new worker says what it removed:\n${next.output()}`);
    const retried = await finished(id);
    assert.equal(retried.state, 'completed', JSON.stringify(retried.error));
    assert.deepEqual(await scratchEntries(), [], 'and the jobs since left none of their own');
  });

  it('the API checks the filesystem fields and the source as the worker would (400 naming each problem), nothing queued', SLOW, async () => {
    await writeFile(join(env.imageRoot, 'team-a/not-a-dir'), 'x');
    const jobs = await jobCount();
    const bad = async (body: Record<string, unknown>): Promise<{ error: string; problems: string[]; message: string }> => {
      const r = await api('POST', '/v1/bundles', body);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      const j = r.json as { error: string; message: string; problems?: Array<{ path: string; message: string }> };
      return { error: j.error, message: j.message, problems: (j.problems ?? []).map((p) => `${p.path}: ${p.message}`) };
    };
    const fields = await bad(spec('s3://images/team-a/tree', 'bad', { from: 'tree', sizeMiB: 8, partition: 'apm', fstab: 'maybe', extra: 1 }));
    assert.equal(fields.error, 'BF_BAD_SPEC');
    for (const path of ['filesystem.sizeMiB', 'filesystem.partition', 'filesystem.fstab', 'filesystem']) {
      assert.ok(fields.problems.some((p) => p.startsWith(`${path}: `)), `${path} named: ${fields.problems.join('; ')}`);
    }
    const s3Tree = await bad(spec('s3://images/team-a/tree', 'bad', { from: 'tree' }));
    assert.deepEqual(s3Tree.problems, ['image: a root tree is a directory under the image root; for S3, upload a tarball of it and say "from": "tarball"']);
    const notDir = await bad(spec('team-a/not-a-dir', 'bad', { from: 'tree' }));
    assert.deepEqual([notDir.error, notDir.message], ['BF_FILE_UNREADABLE', 'cannot read team-a/not-a-dir: not a directory (a root tree is a directory)']);
    const missing = await bad(spec('team-a/no-such.tar.zst', 'bad', { from: 'tarball' }));
    assert.equal(missing.error, 'BF_FILE_UNREADABLE');
    assert.equal(await jobCount(), jobs, 'nothing queued');
  });

  it('a tarball or tree outside the principal\'s scope is refused at the API (403), nothing queued', SLOW, async () => {
    await env.client.send(new PutObjectCommand({ Bucket: 'images', Key: 'team-b/rootfs.tar.zst', Body: randomBytes(1024) }));
    await mkdir(join(env.imageRoot, 'team-b/tree/etc'), { recursive: true });
    const jobs = await jobCount();
    const cases: Array<[string, Record<string, unknown>]> = [
      ['s3://images/team-b/rootfs.tar.zst', { from: 'tarball' }],
      ['team-b/tree', { from: 'tree' }],
    ];
    for (const [image, filesystem] of cases) {
      const r = await api('POST', '/v1/bundles', spec(image, 'stolen', filesystem));
      assert.equal(r.status, 403, `${image}: ${JSON.stringify(r.json)}`);
      const problems = (r.json as { problems?: Array<{ path: string; message: string }> }).problems ?? [];
      assert.deepEqual(problems.map((p) => p.path), ['image'], JSON.stringify(r.json));
      assert.match(problems[0]!.message, /may not read/);
    }
    assert.equal(await jobCount(), jobs, 'nothing queued');
  });
});
