/*
 * `bundlefarm delete-bundle`: ec2-delete-bundle. Deletes exactly a bundle's manifest and the parts that
 * manifest lists — read from the bucket (`-p NAME`) or from a local copy (`-m MANIFEST`) — and nothing
 * else under the prefix. Asks first on a terminal unless `-y`; `--dry-run` only lists.
 */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { InvalidOptionError } from '@bundlefarm/errors';
import { checkBundleName, manifestName, parseManifest, type BundleManifest } from '@bundlefarm/format';
import { deleteBundle, formatS3Url, parseBucketArgument, S3PartSource } from '@bundlefarm/s3';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { confirm } from '../confirm.js';
import { createProgressView } from '../progress-bar.js';
import { readManifestFile } from '../read-manifest.js';
import { addS3Options, locateBucket, printJson, s3Connection, type S3CliFlags } from '../s3-options.js';

interface DeleteFlags extends S3CliFlags {
  bucket: string;
  prefix?: string;
  manifest?: string;
  yes?: boolean;
  dryRun?: boolean;
}

export function registerDeleteBundle(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  const cmd = program
    .command('delete-bundle')
    .description("delete a bundle from S3 (ec2-delete-bundle compatible): its manifest and the parts it lists, nothing else")
    .requiredOption('-b, --bucket <bucket[/prefix]>', 'bucket, optionally with a key prefix')
    .option('-p, --prefix <name>', 'bundle name: the manifest NAME.manifest.xml is read from the bucket')
    .option('-m, --manifest <path>', 'a local copy of the manifest (its file name is the key under the prefix)')
    .option('-y, --yes', 'do not ask for confirmation', false)
    .option('--dry-run', 'list what would be deleted, delete nothing', false);
  addS3Options(cmd, 'region of the bucket (default: found with GetBucketLocation)').action(async (opts: DeleteFlags) => {
    if ((opts.prefix === undefined) === (opts.manifest === undefined)) {
      throw new InvalidOptionError('-p/-m', 'give the bundle name (-p NAME) or a local manifest (-m MANIFEST), one of the two');
    }
    const target = parseBucketArgument(opts.bucket);
    const local = opts.manifest !== undefined ? await readManifestFile(opts.manifest) : undefined;
    const manifestFile = opts.manifest !== undefined ? basename(opts.manifest) : manifestName(checkBundleName(opts.prefix!));
    const connection = s3Connection(opts, io);
    try {
      const { region } = await locateBucket(connection, target.bucket, opts.region);
      const client = connection.clientFor(region);
      let manifest: BundleManifest;
      if (local) manifest = local.manifest;
      else {
        const source = new S3PartSource({ client, bucket: target.bucket, prefix: target.prefix, retry: connection.retry });
        manifest = parseManifest(await source.readManifest(manifestFile)).manifest;
      }
      const base = { client, region, bucket: target.bucket, prefix: target.prefix, manifest, manifestFile, retry: connection.retry };
      if (opts.dryRun) {
        const listed = await deleteBundle({ ...base, dryRun: true });
        if (opts.json) return printJson(io, { dryRun: true, region, bucket: target.bucket, keys: listed.keys, present: listed.present });
        for (const key of listed.keys) out(io, `would delete ${formatS3Url(target.bucket, key)}${listed.present!.includes(key) ? '' : ' (not there)'}`);
        out(io, `dry run: nothing deleted (${listed.present!.length} of ${listed.keys.length} objects present)`);
        return;
      }
      if (!opts.yes) {
        await confirm(
          io,
          'delete-bundle',
          `Delete ${formatS3Url(target.bucket, target.prefix + manifestFile)} and the ${manifest.image.parts.length} parts it lists?`,
        );
      }
      const view = createProgressView(!flags().quiet && !opts.json, 'deleting', io.stderr);
      const result = await deleteBundle({ ...base, onProgress: (done, total) => view.update(done, total, `${done}/${total} objects`) }).finally(() => view.stop());
      if (opts.json) return printJson(io, { region, bucket: target.bucket, deleted: result.deleted });
      out(io, `deleted: ${result.deleted.length} objects (the manifest and ${result.deleted.length - 1} parts) from ${formatS3Url(target.bucket, target.prefix)}`);
    } finally {
      connection.destroy();
    }
  });
}
