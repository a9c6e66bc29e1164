import { Option, type Command } from 'commander';
import { InvalidOptionError } from '@bundlefarm/errors';
import { checkImageId, normalizeAccountId, parseArchitecture, parseBlockDeviceMapping, parseProductCodes } from '@bundlefarm/format';
import { ApiClient, apiClientOptions, API_TOKEN_ENV, API_URL_ENV, type JobSpecBody } from '../api-client.js';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { uploadImage } from '../image-upload.js';
import { intOption } from '../option-parsers.js';
import { assertSucceeded, followJob, printSummary } from './status-command.js';

interface EnqueueFlags {
  image?: string;
  rootfs?: string;
  tarball?: string;
  fsSize?: number;
  label?: string;
  partition?: 'none' | 'mbr' | 'gpt';
  generateFstab?: boolean;
  user: string;
  arch: string;
  identity: string;
  target: string[];
  prefix?: string;
  kernel?: string;
  ramdisk?: string;
  blockDeviceMapping?: string;
  productcodes?: string;
  level?: number;
  threads?: number;
  api?: string;
  token?: string;
  idempotencyKey?: string;
  replace?: boolean;
  wait?: boolean;
  interval?: number;
  upload?: boolean;
}

type Target = JobSpecBody['regions'][number];

/**
 * `--target REGION:BUCKET[/PREFIX][@ID[,ID]]`: where one region's copy goes, with that region's kernel
 * and ramdisk ids after `@` (ids differ per region):
 *
 *   us-east-1:my-amis
 *   us-east-1:my-amis/images/2024/@aki-12345678
 *   eu-west-1:my-amis-eu/images@aki-87654321,ari-87654321
 *
 * `--kernel`/`--ramdisk` apply to targets that give none of their own.
 */
export function parseTarget(value: string): Target {
  const m = /^([a-z0-9-]+):([^/@]+)(?:\/([^@]*))?(?:@(.*))?$/.exec(value.trim());
  if (!m) throw new InvalidOptionError('--target', `${JSON.stringify(value)} is not REGION:BUCKET[/PREFIX][@aki-…[,ari-…]] (e.g. us-east-1:my-bucket/images)`);
  const target: Target = { region: m[1]!, bucket: m[2]! };
  if (m[3] !== undefined && m[3] !== '') target.prefix = m[3];
  for (const id of (m[4] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (id.startsWith('aki-')) {
      if (target.kernelId !== undefined) throw new InvalidOptionError('--target', `${JSON.stringify(value)} names two kernels`);
      target.kernelId = checkImageId(id, 'aki', '--target');
    } else if (id.startsWith('ari-')) {
      if (target.ramdiskId !== undefined) throw new InvalidOptionError('--target', `${JSON.stringify(value)} names two ramdisks`);
      target.ramdiskId = checkImageId(id, 'ari', '--target');
    } else {
      throw new InvalidOptionError('--target', `${JSON.stringify(id)} in ${JSON.stringify(value)} is neither an aki- nor an ari- id`);
    }
  }
  return target;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The job spec the flags describe (checked here as far as the CLI can; the API checks everything). */
export function specFromFlags(opts: EnqueueFlags): JobSpecBody {
  const kernel = opts.kernel !== undefined ? checkImageId(opts.kernel, 'aki', '--kernel') : undefined;
  const ramdisk = opts.ramdisk !== undefined ? checkImageId(opts.ramdisk, 'ari', '--ramdisk') : undefined;
  const regions = opts.target.map(parseTarget).map((t) => ({
    ...t,
    ...(t.kernelId === undefined && kernel !== undefined ? { kernelId: kernel } : {}),
    ...(t.ramdiskId === undefined && ramdisk !== undefined ? { ramdiskId: ramdisk } : {}),
  }));
  if (regions.length === 0) throw new InvalidOptionError('--target', 'give at least one --target REGION:BUCKET[/PREFIX]');
  const sources = [opts.image, opts.rootfs, opts.tarball].filter((s) => s !== undefined);
  if (sources.length !== 1) throw new InvalidOptionError('--image', 'give exactly one of --image IMAGE, --rootfs DIR or --tarball URL|PATH');
  const from = opts.rootfs !== undefined ? 'tree' : opts.tarball !== undefined ? 'tarball' : undefined;
  if (from === undefined) {
    for (const [flag, given] of [['--fs-size', opts.fsSize], ['--label', opts.label], ['--partition', opts.partition], ['--generate-fstab', opts.generateFstab]] as const) {
      if (given !== undefined && given !== false) throw new InvalidOptionError(flag, 'applies to a filesystem built with --rootfs or --tarball, not to --image');
    }
  }
  return {
    ...(opts.prefix !== undefined ? { name: opts.prefix } : {}),
    image: sources[0]!,
    ...(from !== undefined
      ? {
          filesystem: {
            from,
            ...(opts.fsSize !== undefined ? { sizeMiB: opts.fsSize } : {}),
            ...(opts.label !== undefined ? { label: opts.label } : {}),
            ...(opts.partition !== undefined ? { partition: opts.partition } : {}),
            ...(opts.generateFstab ? { fstab: 'generate' as const } : {}),
          },
        }
      : {}),
    architecture: parseArchitecture(opts.arch),
    accountId: normalizeAccountId(opts.user),
    identity: opts.identity,
    regions,
    ...(opts.blockDeviceMapping !== undefined ? { blockDeviceMapping: parseBlockDeviceMapping(opts.blockDeviceMapping) } : {}),
    ...(opts.productcodes !== undefined ? { productCodes: parseProductCodes(opts.productcodes) } : {}),
    ...(opts.level !== undefined ? { level: opts.level } : {}),
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(opts.replace ? { replace: true } : {}),
  };
}

export function registerEnqueue(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  program
    .command('enqueue')
    .description('queue a bundle job on a bundlefarm service (bundle + upload to one or more regions); prints the job id')
    .option('-i, --image <image>', "disk image: s3://bucket/key, or a path relative to the workers' image root (at most 10 GiB); with --upload a local file")
    .option('--rootfs <dir>', 'build an ext4 image on the worker from this root tree: a directory relative to the workers\' image root')
    .option('--tarball <url|path>', 'build an ext4 image on the worker from this rootfs tarball (.tar, .tar.gz, .tar.zst, .tar.xz): s3://bucket/key or a path relative to the image root')
    .option('--fs-size <MiB>', 'with --rootfs/--tarball: image size in MiB, 16-10240 (default: the content plus headroom)', intOption('--fs-size', 16, 10240))
    .option('--label <label>', 'with --rootfs/--tarball: ext4 volume label')
    .addOption(new Option('--partition <type>', 'with --rootfs/--tarball: none (filesystem image, paravirtual; default), mbr or gpt (disk image, HVM)').choices(['none', 'mbr', 'gpt']))
    .option('--generate-fstab', 'with --rootfs/--tarball: write an /etc/fstab that mounts the root by the filesystem\'s UUID')
    .requiredOption('-u, --user <account>', 'AWS account id, 12 digits (hyphens allowed)')
    .requiredOption('-r, --arch <arch>', 'i386 or x86_64')
    .requiredOption('--identity <name>', 'signing key pair, by the name it has in the workers\' configuration')
    .requiredOption(
      '--target <target>',
      'where to upload, repeatable: REGION:BUCKET[/PREFIX][@aki-…[,ari-…]], e.g. us-east-1:my-amis/images@aki-12345678 (kernel/ramdisk ids of that region after @)',
      collect,
    )
    .option('-p, --prefix <name>', "bundle name (default: the image's file name)")
    .option('--kernel <aki>', 'kernel id for targets that name none')
    .option('--ramdisk <ari>', 'ramdisk id for targets that name none')
    .option('-B, --block-device-mapping <map>', 'virtual=device,... e.g. ami=sda1,root=/dev/sda1')
    .option('--productcodes <codes>', 'comma-separated product codes')
    .option('--level <n>', 'compression level 1-9', intOption('--level', 1, 9))
    .option('--threads <n>', 'compression tasks of this job at once on its worker', intOption('--threads', 1, 64))
    .option('--api <url>', `bundlefarm API URL (default $${API_URL_ENV})`)
    .option('--token <token>', `API token (default $${API_TOKEN_ENV}; prefer the variable: arguments show in ps)`)
    .option('--idempotency-key <key>', "makes the job id (with the token's principal); enqueuing again with the same key returns the same job")
    .option(
      '--replace',
      'replace a bundle already published at a target (its NAME.manifest.xml); without it such a target is refused (BF_BUNDLE_EXISTS) and left untouched',
      false,
    )
    .option(
      '--upload',
      "send the local image -i to the service's staging area first (presigned URLs, progress bar; re-run after a cut to resume), then enqueue the job on it; the service deletes it when the job ends",
      false,
    )
    .option('--wait', 'follow the job until it finishes (progress bar on a terminal); exit 1 if it failed', false)
    .option('--interval <ms>', 'poll interval with --wait (default 1000)', intOption('--interval', 100, 60_000))
    .action(async (opts: EnqueueFlags) => {
      const { quiet } = flags();
      const spec = specFromFlags(opts);
      const apiOptions = apiClientOptions(opts, io.env);
      const client = new ApiClient(apiOptions);
      if (opts.upload) {
        if (opts.image === undefined) throw new InvalidOptionError('--upload', 'sends the local image given with -i IMAGE; --rootfs and --tarball are read by the workers');
        const up = await uploadImage(opts.image, { client, apiUrl: apiOptions.url, env: io.env, progress: !quiet });
        if (!quiet) io.stderr.write(`bundlefarm: ${up.resumed ? 'resumed upload' : 'uploaded'} ${opts.image} to ${up.image} (${up.sentParts} part(s) sent)\n`);
        spec.image = up.image;
      }
      const job = await client.enqueue(spec, opts.idempotencyKey);
      out(io, job.id);
      if (!job.created && !quiet) io.stderr.write(`bundlefarm: job ${job.id} already existed (same idempotency key); not enqueued again\n`);
      if (!opts.wait) return;
      const status = await followJob(client, job.id, io, { quiet, intervalMs: opts.interval ?? 1000 });
      printSummary(io, status);
      assertSucceeded(status);
    });
}
