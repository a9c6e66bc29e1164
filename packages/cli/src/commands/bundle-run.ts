/*
 * What `bundle`, `bundle-vol` and `bundle-tar` share: ec2-ami-tools' bundle flags, their validation
 * before any work, and the run of the engine with progress, cancellation on SIGINT/SIGTERM and the
 * summary printed at the end.
 */
import type { Command } from 'commander';
import { createBundle, DEFAULT_LEVEL, DirectorySink, engineBackends, formatBackends, sharedThreadPool } from '@bundlefarm/engine';
import { InvalidNameError } from '@bundlefarm/errors';
import {
  checkImageId,
  normalizeAccountId,
  parseArchitecture,
  parseBlockDeviceMapping,
  parseProductCodes,
  readCertificateFile,
  type CertificateMaterial,
  type ManifestSpec,
  type PrivateKeyMaterial,
} from '@bundlefarm/format';
import { join } from 'node:path';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { loadEc2Certificate, loadPrivateKey } from '../load-identity.js';
import { intOption } from '../option-parsers.js';
import { createProgressView, formatBytes } from '../progress-bar.js';
import { versionText } from '../version-text.js';

export interface BundleRunFlags {
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

/** The flags every bundling command takes (all but the image and the destination). */
export function addBundleOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-c, --cert <pem>', "user's X.509 certificate (PEM)")
    .requiredOption('-k, --privatekey <pem>', `user's RSA private key (PEM; passphrase in $BUNDLEFARM_KEY_PASSPHRASE)`)
    .requiredOption('-u, --user <account>', 'AWS account id, 12 digits (hyphens allowed)')
    .requiredOption('-r, --arch <arch>', 'i386 or x86_64')
    .option('--kernel <aki>', 'kernel id (aki-xxxxxxxx)')
    .option('--ramdisk <ari>', 'ramdisk id (ari-xxxxxxxx)')
    .option('-B, --block-device-mapping <map>', 'virtual=device,... e.g. ami=sda1,root=/dev/sda1')
    .option('--productcodes <codes>', 'comma-separated product codes')
    .option('--ec2cert <pem>', "EC2's certificate to encrypt for (default: the one of --region's partition)")
    .option('--region <region>', "region the bundle is for (e.g. us-east-1, us-gov-west-1, cn-north-1; default us-east-1): its partition's EC2 certificate is used")
    .option('--level <n>', `compression level 1-9 (default ${DEFAULT_LEVEL})`, intOption('--level', 1, 9))
    .option('--threads <n>', 'compression threads (default: number of cores); SHA-1 of the tar stream and AES run beside them, on up to 2 more', intOption('--threads', 1, 256))
    .option('--fsync', 'flush parts and manifest to disk before publishing them (slower; default off, like tar)', false)
    .option('--no-direct-io', 'write parts through the page cache instead of with O_DIRECT (for disks much slower than bundling)')
    .version(versionText(), '-V, --version', 'print the version and the backends in use (deflate, aes, holes, part writes)');
}

export interface PreparedBundle {
  spec: Omit<ManifestSpec, 'name'>;
  privateKey: PrivateKeyMaterial;
  certificate: CertificateMaterial;
  ec2Certificate: CertificateMaterial;
}

/** Validates the flags and loads the keys: before reading a byte of the image. */
export async function prepareBundle(opts: BundleRunFlags, io: CliIo): Promise<PreparedBundle> {
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
  return { spec, privateKey, certificate, ec2Certificate };
}

/** Calls `fn` with a signal that SIGINT/SIGTERM abort. */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** Bundles `image` into the destination and prints the summary. */
export async function runBundle(
  io: CliIo,
  { quiet, debug }: GlobalFlags,
  opts: BundleRunFlags,
  prepared: PreparedBundle,
  image: string,
  signal: AbortSignal,
  name?: string,
): Promise<void> {
  if (debug) {
    const backends = engineBackends();
    io.stderr.write(`bundlefarm: backends: ${formatBackends(backends)}\n`);
    for (const [stage, why] of Object.entries(backends.reasons)) io.stderr.write(`bundlefarm: ${stage} falls back: ${why}\n`);
  }
  const pool = sharedThreadPool(opts.threads !== undefined ? { threads: opts.threads } : {});
  const view = createProgressView(!quiet, 'bundling', io.stderr);
  const sink = new DirectorySink(opts.destination, { fsync: opts.fsync ?? false, directIo: opts.directIo ? 'auto' : 'off' });
  try {
    const prefix = name ?? opts.prefix;
    const created = await createBundle(
      {
        image,
        ...(prefix !== undefined ? { name: prefix } : {}),
        ...(opts.level !== undefined ? { level: opts.level } : {}),
        pool,
        signal,
        spec: prepared.spec,
        user: { privateKey: prepared.privateKey, certificate: prepared.certificate },
        ec2Certificate: prepared.ec2Certificate,
        onProgress: (p) =>
          view.update(p.bytesIn, p.totalIn, `${formatBytes(p.bytesIn)} in, ${formatBytes(p.bytesOut)} out, ${p.partsDone} parts`),
      },
      sink,
    ).catch((err: unknown) => {
      // a name taken from the image's file name: say where it came from, and how to give one
      if (prefix === undefined && err instanceof InvalidNameError) {
        throw new InvalidNameError(String(err.details.value), `${String(err.details.reason)}; it is the image's file name: give a bundle name with -p NAME`);
      }
      throw err;
    });
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
  }
}
