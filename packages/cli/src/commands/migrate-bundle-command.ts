/*
 * `bundlefarm migrate-bundle`: ec2-migrate-bundle. A bundle in one bucket made into the same bundle in a
 * bucket of another region: the manifest migrated (migrate-manifest), the parts copied server-side with
 * the bundle's ACL, resumably, the new manifest written last. The destination bucket must be in
 * `--region`.
 */
import type { Command } from 'commander';
import { BundleRegionMismatchError, InvalidOptionError } from '@bundlefarm/errors';
import { checkBundleName, isPlainFileName, manifestName, parseManifest } from '@bundlefarm/format';
import { BUNDLE_ACLS, checkBundleAcl, copyBundle, formatS3Url, parseBucketArgument, S3PartSource } from '@bundlefarm/s3';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { createProgressView, formatBytes } from '../progress-bar.js';
import { addS3Options, locateBucket, printJson, s3Connection, type S3CliFlags } from '../s3-options.js';
import { withInterrupt } from './bundle-run.js';
import { addMigrateOptions, migrateWithFlags, type MigrateFlags } from './migrate-manifest-command.js';

interface MigrateBundleFlags extends MigrateFlags, Omit<S3CliFlags, 'region'> {
  bucket: string;
  destinationBucket: string;
  prefix?: string;
  manifest?: string;
  location?: string;
  acl?: string;
  replace?: boolean;
  sourceEndpoint?: string;
}

export function registerMigrateBundle(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  const cmd = program
    .command('migrate-bundle')
    .description('copy a bundle to a bucket of another region (ec2-migrate-bundle compatible): migrated manifest, parts copied in S3, resumable')
    .requiredOption('-b, --bucket <bucket[/prefix]>', 'source bucket, optionally with a key prefix')
    .requiredOption('-d, --destination-bucket <bucket[/prefix]>', 'destination bucket (in --region), optionally with a key prefix')
    .option('-p, --prefix <name>', 'bundle name (the manifest is NAME.manifest.xml)')
    .option('-m, --manifest <file>', "the manifest's file name in the source bucket (NAME.manifest.xml)")
    .option('--location <region>', 'same as --region (ec2-migrate-bundle’s name)')
    .option('--acl <acl>', `canned ACL of the copies: ${BUNDLE_ACLS.join(', ')} (default aws-exec-read)`)
    .option('--replace', 'replace another bundle of the same name at the destination', false)
    .option('--source-endpoint <url>', "the source bucket's endpoint, when not --endpoint (S3-compatible stores)");
  addMigrateOptions(cmd);
  // --region is required by addMigrateOptions; the S3 options add the rest
  addS3Options(cmd.createCommand('x'), '').options.filter((o) => o.long !== '--region').forEach((o) => cmd.addOption(o));
  cmd.action(async (opts: MigrateBundleFlags) => {
    if (opts.location !== undefined && opts.location !== opts.region) throw new InvalidOptionError('--location', `${opts.location} differs from --region ${opts.region}`);
    if ((opts.prefix === undefined) === (opts.manifest === undefined)) {
      throw new InvalidOptionError('-p/-m', 'give the bundle name (-p NAME) or the manifest file name (-m NAME.manifest.xml), one of the two');
    }
    const manifestFile = opts.prefix !== undefined ? manifestName(checkBundleName(opts.prefix)) : opts.manifest!;
    if (!isPlainFileName(manifestFile)) throw new InvalidOptionError('-m', `${JSON.stringify(manifestFile)} is a file name in the bucket, not a path`);
    const acl = checkBundleAcl(opts.acl);
    const source = parseBucketArgument(opts.bucket);
    const target = parseBucketArgument(opts.destinationBucket);
    const connection = s3Connection(opts, io);
    const sourceEndpoint = opts.sourceEndpoint ?? opts.endpoint;
    try {
      const from = await locateBucket(connection, source.bucket, undefined, sourceEndpoint);
      const sourceClient = connection.clientFor(from.region, sourceEndpoint);
      const to = await locateBucket(connection, target.bucket, opts.region);
      if (to.bucketRegion !== undefined && to.bucketRegion !== opts.region) {
        throw new BundleRegionMismatchError(target.bucket, to.bucketRegion, `not in ${opts.region} (--region)`, `give a destination bucket in ${opts.region}, or --region ${to.bucketRegion}`);
      }
      const reader = new S3PartSource({ client: sourceClient, bucket: source.bucket, prefix: source.prefix, retry: connection.retry });
      const parsed = parseManifest(await reader.readManifest(manifestFile));
      const migrated = await migrateWithFlags(parsed, opts, io);
      const view = createProgressView(!flags().quiet && !opts.json, 'copying', io.stderr);
      const result = await withInterrupt((signal) =>
        copyBundle({
          sourceClient,
          sourceBucket: source.bucket,
          sourcePrefix: source.prefix,
          targetClient: connection.clientFor(opts.region),
          targetRegion: opts.region,
          targetBucket: target.bucket,
          targetPrefix: target.prefix,
          parts: migrated.manifest.image.parts,
          manifestFile,
          manifestXml: migrated.xml,
          acl,
          retry: connection.retry,
          ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
          replace: opts.replace ?? false,
          signal,
          onProgress: (p) => view.update(p.partsDone, p.partsTotal, `${p.partsDone}/${p.partsTotal} parts, ${formatBytes(p.bytesDone)}, ${p.partsSkipped} already there`),
        }),
      ).finally(() => view.stop());
      if (opts.json) {
        printJson(io, { region: opts.region, source: formatS3Url(source.bucket, source.prefix + manifestFile), ...result });
        return;
      }
      out(io, `copied:   ${result.copied.length} part${result.copied.length === 1 ? '' : 's'} from ${formatS3Url(source.bucket, source.prefix)} (server-side)`);
      if (result.skipped.length > 0) out(io, `skipped:  ${result.skipped.length} part${result.skipped.length === 1 ? '' : 's'} already at the destination`);
      out(io, `manifest: ${result.manifest} (migrated for ${opts.region})`);
    } finally {
      connection.destroy();
    }
  });
}
