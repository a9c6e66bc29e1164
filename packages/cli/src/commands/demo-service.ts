/*
 * `bundlefarm demo --service`: the demo through the service. Uses the local service running on the
 * data dir (`bundlefarm serve --local`), or starts one for the demo in a new directory and stops it at
 * the end (and removes its directory). Puts a sample image in its image root, enqueues it to one bucket of every region the
 * service has (by default us-east-1 and GovCloud), follows the job with the progress bar, lists what
 * it published in S3, copies each region's bundle back and unbundles it with the service's key — the
 * image comes back identical from each.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DirectorySource, unbundle } from '@bundlefarm/engine';
import { readCertificateFile } from '@bundlefarm/format';
import type { LocalEnv, LocalService } from '@bundlefarm/local-service';
import { ApiClient } from '../api-client.js';
import { out, type CliIo } from '../cli-io.js';
import { loadPrivateKey } from '../load-identity.js';
import { readManifestFile } from '../read-manifest.js';
import { assertSucceeded, followJob, printSummary } from './status-command.js';
import { sha256, writeSampleImage } from './demo-command.js';

export interface ServiceDemoOptions {
  /** Data dir of the local service to use (default: serve --local's default; none running there: a new one is started). */
  dataDir?: string;
  /** Where the copies and the unbundled images go (default: a new temporary directory). */
  dir?: string;
  /** Sample image size in bytes. */
  size: number;
  quiet: boolean;
}

export async function runServiceDemo(io: CliIo, o: ServiceDemoOptions): Promise<void> {
  const { defaultLocalDataDir, readLocalEnv, runningLocalService, startLocalService } = await import('@bundlefarm/local-service');
  const dataDir = o.dataDir ?? defaultLocalDataDir(io.env, homedir());
  let env = await runningLocalService(dataDir);
  let started: LocalService | undefined;
  let startedDir: string | undefined;
  // a Ctrl-C while the demo's own service runs stops that service too (its processes run in groups of their own)
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    void (started?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (env) {
      out(io, `bundlefarm demo --service: using the local service on ${dataDir} (${env.apiUrl})`);
    } else {
      const serviceDir = o.dataDir ?? (startedDir = await mkdtemp(join(tmpdir(), 'bundlefarm-demo-service-')));
      out(io, `bundlefarm demo --service: no local service runs on ${dataDir}; starting one in ${serviceDir} for the demo…`);
      started = await startLocalService({ dataDir: serviceDir, apiPort: 0, s3Port: 0 });
      if (interrupted) return;
      env = (await readLocalEnv(started.dataDir))!;
      out(io, `  API ${started.apiUrl}, Bull Board ${started.boardUrl}; S3 ${Object.entries(started.s3Endpoints).map(([r, e]) => `${r} ${e}`).join(', ')}`);
    }
    await demoAgainst(io, env, o, { keepsRunning: started === undefined, userDataDir: resolve(dataDir) });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (started) {
      out(io, 'stopping the demo\'s local service…');
      await started.stop();
      if (startedDir !== undefined) await rm(startedDir, { recursive: true, force: true });
    }
  }
}

/** `after.userDataDir`: where the user's own service runs, or would (for the "try it yourself" lines). */
async function demoAgainst(io: CliIo, env: LocalEnv, o: ServiceDemoOptions, after: { keepsRunning: boolean; userDataDir: string }): Promise<void> {
  const { keepsRunning, userDataDir } = after;
  const stamp = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(2).toString('hex')}`;
  const imageName = `demo-${stamp}.img`;
  const imagePath = join(env.imageRoot, imageName);
  await writeSampleImage(imagePath, o.size);
  const prefix = `demo/${stamp}`;
  // one bucket per region: the first the service names there
  const targets = [...new Map(env.buckets.map((b) => [b.region, b] as const)).values()];
  out(io, `image ${imagePath} (${o.size} bytes) → ${targets.map((t) => `${t.region}:${t.name}/${prefix}`).join(', ')}`);

  const client = new ApiClient({ url: env.apiUrl, token: env.apiToken });
  const job = await client.enqueue({
    image: imageName,
    architecture: 'x86_64',
    accountId: '123456789012',
    identity: env.identity,
    regions: targets.map((t) => ({ region: t.region, bucket: t.name, prefix })),
  });
  out(io, `job ${job.id} enqueued`);
  const status = await followJob(client, job.id, io, { quiet: o.quiet, intervalMs: 500 });
  printSummary(io, status);
  assertSucceeded(status);

  const { downloadLocalObjects, listLocalObjects } = await import('@bundlefarm/local-service');
  const dir = resolve(o.dir ?? (await mkdtemp(join(tmpdir(), 'bundlefarm-demo-'))));
  await mkdir(dir, { recursive: true });
  const [privateKey, certificate] = await Promise.all([loadPrivateKey(env.identityKey, io.env), readCertificateFile(env.identityCert)]);
  const original = await sha256(imagePath);
  for (const t of targets) {
    const objects = await listLocalObjects(env, t.region, t.name, `${prefix}/`);
    out(io);
    out(io, `s3://${t.name}/${prefix}/ (${t.region}, ${env.s3Endpoints[t.region]}):`);
    for (const obj of objects) out(io, `  ${String(obj.size).padStart(10)}  ${obj.key}`);
    const copy = join(dir, t.region);
    await downloadLocalObjects(env, t.region, t.name, objects.map((x) => x.key), copy);
    const manifest = objects.find((x) => x.key.endsWith('.manifest.xml'));
    if (!manifest) throw new Error(`no manifest under s3://${t.name}/${prefix}/`);
    const parsed = await readManifestFile(join(copy, manifest.key.slice(manifest.key.lastIndexOf('/') + 1)));
    const result = await unbundle({ manifest: parsed, privateKey, certificate, source: new DirectorySource(copy), destination: join(copy, 'unbundled'), overwrite: true });
    const digest = await sha256(result.path);
    if (digest !== original) throw new Error(`the image unbundled from ${t.region} differs from the one sent: ${digest} vs ${original}`);
    out(io, `  unbundled  ${result.path}: identical to the image (SHA-256 ${digest.slice(0, 16)}…)`);
  }
  out(io);
  out(io, 'Try it yourself:');
  if (!keepsRunning) out(io, `  bundlefarm serve --local${o.dataDir !== undefined ? ` --data-dir '${userDataDir}'` : ''}      # in another terminal; Ctrl-C stops it`);
  out(io, `  set -a; . '${join(userDataDir, 'local.env')}'; set +a`);
  if (!keepsRunning) out(io, `  cp your.img "$BUNDLEFARM_LOCAL_IMAGE_ROOT/"`);
  out(io, `  bundlefarm enqueue -i ${keepsRunning ? imageName : 'your.img'} -u 123456789012 -r x86_64 --identity ${env.identity} ${targets.map((t) => `--target ${t.region}:${t.name}/again`).join(' ')} --wait`);
}
