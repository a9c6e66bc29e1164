import type { Command } from 'commander';
import { createBundle, DEFAULT_LEVEL, DirectorySink, engineBackends, formatBackends, sharedWorkerPool } from '@bundlefarm/engine';
import {
  checkImageId,
  normalizeAccountId,
  parseArchitecture,
  parseBlockDeviceMapping,
  parseProductCodes,
  readCertificateFile,
} from '@bundlefarm/format';
import { join } from 'node:path';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { loadEc2Certificate, loadPrivateKey } from '../load-identity.js';
import { intOption } from '../option-parsers.js';
import { versionText } from '../version-text.js';
import { createProgressView, formatBytes } from '../progress-bar.js';

interface BundleFlags {
  image: string;
  cert: string;
  privatekey: string;
  user: string;
  arch: string;
  destination: string;
  prefix?: string;
  kernel?: string;
  ramdisk?: string;
  blockDeviceMapping?: string;
  productcodes?: string;
  ec2cert?: string;
  region?: string;
  level?: number;
  threads?: number;
  fsync?: boolean;
  directIo: boolean;
}

export function registerBundle(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  program
    .command('bundle')
    .description('bundle a disk image into NAME.manifest.xml and NAME.part.N (ec2-bundle-image compatible)')
    .requiredOption('-i, --image <path>', 'image file to bundle (at most 10 GiB)')
    .requiredOption('-c, --cert <pem>', "user's X.509 certificate (PEM)")
    .requiredOption('-k, --privatekey <pem>', `user's RSA private key (PEM; passphrase in $BUNDLEFARM_KEY_PASSPHRASE)`)
    .requiredOption('-u, --user <account>', 'AWS account id, 12 digits (hyphens allowed)')
    .requiredOption('-r, --arch <arch>', 'i386 or x86_64')
    .requiredOption('-d, --destination <dir>', 'directory for the manifest and parts (created if missing)')
    .option('-p, --prefix <name>', "bundle name (default: the image's file name)")
    .option('--kernel <aki>', 'kernel id (aki-xxxxxxxx)')
    .option('--ramdisk <ari>', 'ramdisk id (ari-xxxxxxxx)')
    .option('-B, --block-device-mapping <map>', 'virtual=device,... e.g. ami=sda1,root=/dev/sda1')
    .option('--productcodes <codes>', 'comma-separated product codes')
    .option('--ec2cert <pem>', "EC2's certificate to encrypt for (default: the one of --region's partition)")
    .option('--region <region>', 'target region; picks the EC2 certificate (aws, us-gov-west-1, cn-north-1)')
    .option('--level <n>', `compression level 1-9 (default ${DEFAULT_LEVEL})`, intOption('--level', 1, 9))
    .option('--threads <n>', 'compression threads (default: number of cores); SHA-1 of the tar stream and AES run beside them, on up to 2 more', intOption('--threads', 1, 256))
    .option('--fsync', 'flush parts and manifest to disk before publishing them (slower; default off, like tar)', false)
    .option('--no-direct-io', 'write parts through the page cache instead of with O_DIRECT (for disks much slower than bundling)')
    .version(versionText(), '-V, --version', 'print the version and the backends in use (deflate, aes, holes, part writes)')
    .action(async (opts: BundleFlags) => {
      const { quiet, debug } = flags();
      if (debug) {
        const backends = engineBackends();
        io.stderr.write(`bundlefarm: backends: ${formatBackends(backends)}\n`);
        for (const [stage, why] of Object.entries(backends.reasons)) io.stderr.write(`bundlefarm: ${stage} falls back: ${why}\n`);
      }
      // Validate everything before reading a byte of the image.
      const accountId = normalizeAccountId(opts.user);
      const architecture = parseArchitecture(opts.arch);
      const spec = {
        accountId,
        architecture,
        ...(opts.kernel ? { kernelId: checkImageId(opts.kernel, 'aki', '--kernel') } : {}),
        ...(opts.ramdisk ? { ramdiskId: checkImageId(opts.ramdisk, 'ari', '--ramdisk') } : {}),
        ...(opts.blockDeviceMapping ? { blockDeviceMapping: parseBlockDeviceMapping(opts.blockDeviceMapping) } : {}),
        ...(opts.productcodes ? { productCodes: parseProductCodes(opts.productcodes) } : {}),
      };
      const ec2Certificate = await loadEc2Certificate(opts.ec2cert, opts.region);
      const [privateKey, certificate] = await Promise.all([loadPrivateKey(opts.privatekey, io.env), readCertificateFile(opts.cert)]);
      const pool = sharedWorkerPool(opts.threads !== undefined ? { threads: opts.threads } : {});
      const view = createProgressView(!quiet, 'bundling', io.stderr);
      const sink = new DirectorySink(opts.destination, { fsync: opts.fsync ?? false, directIo: opts.directIo ? 'auto' : 'off' });
      const controller = new AbortController();
      const onSignal = (): void => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const created = await createBundle(
          {
            image: opts.image,
            ...(opts.prefix !== undefined ? { name: opts.prefix } : {}),
            ...(opts.level !== undefined ? { level: opts.level } : {}),
            pool,
            signal: controller.signal,
            spec,
            user: { privateKey, certificate },
            ec2Certificate,
            onProgress: (p) =>
              view.update(p.bytesIn, p.totalIn, `${formatBytes(p.bytesIn)} in, ${formatBytes(p.bytesOut)} out, ${p.partsDone} parts`),
          },
          sink,
        );
        view.stop();
        const { result } = created;
        const s = result.stats;
        const mbps = result.facts.size / 1e6 / Math.max(s.seconds, 1e-9);
        out(io, `manifest: ${join(opts.destination, created.manifestFile)}`);
        out(io, `parts:    ${result.facts.parts.length} (${result.facts.parts[0]!.filename} … ${result.facts.parts.at(-1)!.filename})`);
        out(io, `image:    ${result.name}, ${result.facts.size} bytes, tar SHA-1 ${result.facts.digest}`);
        out(io, `bundled:  ${result.facts.bundledSize} bytes (level ${s.level}, ${s.backend}, ${pool.threads} thread${pool.threads === 1 ? '' : 's'})`);
        out(io, `time:     ${s.seconds.toFixed(2)} s (${mbps.toFixed(0)} MB/s of image)`);
        if (debug) io.stderr.write(`bundlefarm: part writes: ${sink.writes.direct} with O_DIRECT, ${sink.writes.buffered} buffered\n`);
      } finally {
        view.stop();
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });
}
