/*
 * `bundlefarm download`: ec2-download-bundle. The manifest and its parts from S3 into a directory, each
 * part's SHA-1 checked as it arrives; with `-k` the image is then rebuilt from the downloaded parts by the
 * engine's unbundle (which checks everything again on the way: decryption, gzip, tar, the image digest).
 */
import type { Command } from 'commander';
import { DirectorySource, unbundle } from '@bundlefarm/engine';
import { checkBundleName, readCertificateFile } from '@bundlefarm/format';
import { downloadBundle, formatS3Url, parseBucketArgument } from '@bundlefarm/s3';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { loadPrivateKey } from '../load-identity.js';
import { createProgressView, formatBytes } from '../progress-bar.js';
import { addS3Options, locateBucket, printJson, s3Connection, type S3CliFlags } from '../s3-options.js';
import { withInterrupt } from './bundle-run.js';

interface DownloadFlags extends S3CliFlags {
  bucket: string;
  prefix: string;
  directory: string;
  privatekey?: string;
  cert?: string;
  overwrite?: boolean;
}

export function registerDownload(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  const cmd = program
    .command('download')
    .description('download a bundle from S3 (ec2-download-bundle compatible), checking each part; with -k also unbundle it')
    .requiredOption('-b, --bucket <bucket[/prefix]>', 'bucket, optionally with a key prefix')
    .requiredOption('-p, --prefix <name>', 'bundle name (the manifest is NAME.manifest.xml)')
    .option('-d, --directory <dir>', 'directory to download into (created if missing)', '.')
    .option('-k, --privatekey <pem>', "user's RSA private key: also rebuild the image into the directory")
    .option('-c, --cert <pem>', "user's certificate: check the manifest's signature before unbundling (with -k)")
    .option('--overwrite', 'replace an existing image file when unbundling', false);
  addS3Options(cmd, 'region of the bucket (default: found with GetBucketLocation)').action(async (opts: DownloadFlags) => {
    const source = parseBucketArgument(opts.bucket);
    const name = checkBundleName(opts.prefix);
    const [privateKey, certificate] = await Promise.all([
      opts.privatekey !== undefined ? loadPrivateKey(opts.privatekey, io.env) : Promise.resolve(undefined),
      opts.cert !== undefined ? readCertificateFile(opts.cert) : Promise.resolve(undefined),
    ]);
    const connection = s3Connection(opts, io);
    const quiet = flags().quiet || (opts.json ?? false);
    try {
      const { region } = await locateBucket(connection, source.bucket, opts.region);
      const view = createProgressView(!quiet, 'downloading', io.stderr);
      const downloaded = await withInterrupt((signal) =>
        downloadBundle({
          client: connection.clientFor(region),
          bucket: source.bucket,
          prefix: source.prefix,
          name,
          directory: opts.directory,
          retry: connection.retry,
          ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
          signal,
          onProgress: (p) => view.update(p.partsDone, p.partsTotal, `${p.partsDone}/${p.partsTotal} parts, ${formatBytes(p.bytesDone)}`),
        }),
      ).finally(() => view.stop());
      let image: { path: string; size: number; digest: string } | undefined;
      if (privateKey) {
        const unbundling = createProgressView(!quiet, 'unbundling', io.stderr);
        image = await unbundle({
          manifest: downloaded.manifest,
          privateKey,
          ...(certificate ? { certificate } : {}),
          source: new DirectorySource(opts.directory),
          destination: opts.directory,
          overwrite: opts.overwrite ?? false,
          onProgress: (p) => unbundling.update(p.partsDone, p.partsTotal, `${p.partsDone}/${p.partsTotal} parts`),
        }).finally(() => unbundling.stop());
      }
      const from = formatS3Url(source.bucket, source.prefix);
      if (opts.json) {
        printJson(io, {
          region,
          location: from,
          manifest: downloaded.manifestPath,
          parts: downloaded.parts,
          bytes: downloaded.bytes,
          ...(image ? { image: { path: image.path, size: image.size, digest: image.digest } } : {}),
        });
        return;
      }
      out(io, `manifest: ${downloaded.manifestPath}`);
      out(io, `parts:    ${downloaded.parts} from ${from} (${downloaded.bytes} bytes), every SHA-1 matches the manifest`);
      if (image) out(io, `image:    ${image.path}, ${image.size} bytes, tar SHA-1 ${image.digest} (matches the manifest)`);
    } finally {
      connection.destroy();
    }
  });
}
