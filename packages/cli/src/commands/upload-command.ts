/*
 * `bundlefarm upload`: ec2-upload-bundle. A bundle on disk into S3, parts in parallel, manifest last,
 * resumable; the bucket's region is checked against `--region` and the manifest's partition before any
 * upload (see checkBundleRegion).
 */
import { basename, dirname } from 'node:path';
import type { Command } from 'commander';
import { checkBundleAcl, checkBundleRegion, formatS3Url, parseBucketArgument, uploadBundle, BUNDLE_ACLS } from '@bundlefarm/s3';
import { readCertificateFile } from '@bundlefarm/format';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { intOption } from '../option-parsers.js';
import { createProgressView, formatBytes } from '../progress-bar.js';
import { readManifestFile } from '../read-manifest.js';
import { addS3Options, locateBucket, printJson, s3Connection, type S3CliFlags } from '../s3-options.js';
import { withInterrupt } from './bundle-run.js';

interface UploadFlags extends S3CliFlags {
  bucket: string;
  manifest: string;
  directory?: string;
  acl?: string;
  skipmanifest?: boolean;
  part?: number;
  replace?: boolean;
  ec2cert?: string;
}

export function registerUpload(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  const cmd = program
    .command('upload')
    .description('upload a bundle to S3 (ec2-upload-bundle compatible): parts in parallel, manifest last, resumable')
    .requiredOption('-b, --bucket <bucket[/prefix]>', 'bucket, optionally with a key prefix')
    .requiredOption('-m, --manifest <path>', 'NAME.manifest.xml')
    .option('-d, --directory <dir>', "directory holding the parts (default: the manifest's directory)")
    .option('--acl <acl>', `canned ACL of every object: ${BUNDLE_ACLS.join(', ')} (default aws-exec-read)`)
    .option('--skipmanifest', 'do not upload the manifest', false)
    .option('--part <n>', 'upload from this part index on', intOption('--part', 0, 100_000))
    .option('--replace', 'replace another bundle of the same name at the target (its manifest is deleted first)', false)
    .option('--ec2cert <pem>', 'the EC2 certificate the bundle was made for (default: the one of the bucket region’s partition)');
  addS3Options(cmd, 'region the AMI will be registered in: the bucket must be there (default: the bucket’s region)').action(async (opts: UploadFlags) => {
    const acl = checkBundleAcl(opts.acl);
    const target = parseBucketArgument(opts.bucket);
    const parsed = await readManifestFile(opts.manifest);
    const ec2Certificate = opts.ec2cert !== undefined ? await readCertificateFile(opts.ec2cert) : undefined;
    const connection = s3Connection(opts, io);
    const view = createProgressView(!flags().quiet && !opts.json, 'uploading', io.stderr);
    try {
      const { bucketRegion, region } = await locateBucket(connection, target.bucket, opts.region);
      checkBundleRegion({
        bucket: target.bucket,
        bucketRegion,
        requestedRegion: opts.region,
        manifest: parsed.manifest,
        manifestPath: opts.manifest,
        ...(ec2Certificate ? { ec2Certificate } : {}),
      });
      const result = await withInterrupt((signal) =>
        uploadBundle({
          client: connection.clientFor(region),
          region,
          bucket: target.bucket,
          prefix: target.prefix,
          manifest: parsed,
          manifestFile: basename(opts.manifest),
          directory: opts.directory ?? dirname(opts.manifest),
          acl,
          retry: connection.retry,
          ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
          skipManifest: opts.skipmanifest ?? false,
          ...(opts.part !== undefined ? { fromPart: opts.part } : {}),
          replace: opts.replace ?? false,
          signal,
          onProgress: (p) => view.update(p.partsDone, p.partsTotal, `${p.partsDone}/${p.partsTotal} parts, ${formatBytes(p.bytesDone)}, ${p.partsSkipped} already there`),
        }),
      );
      view.stop();
      if (opts.json) {
        printJson(io, { region, location: formatS3Url(target.bucket, target.prefix), ...result });
        return;
      }
      out(io, `uploaded: ${result.uploaded.length} part${result.uploaded.length === 1 ? '' : 's'} (${result.bytesSent} bytes) to ${formatS3Url(target.bucket, target.prefix)} in ${region}`);
      if (result.skipped.length > 0) out(io, `skipped:  ${result.skipped.length} part${result.skipped.length === 1 ? '' : 's'} already in the bucket (same size and MD5)`);
      if (result.replacedManifest) out(io, 'replaced: the manifest of another bundle of the same name');
      out(io, `manifest: ${result.manifest ?? 'not uploaded (--skipmanifest)'}`);
    } finally {
      view.stop();
      connection.destroy();
    }
  });
}
