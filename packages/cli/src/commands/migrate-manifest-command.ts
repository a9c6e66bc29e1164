/*
 * `bundlefarm migrate-manifest`: ec2-migrate-manifest. The manifest of a bundle made for one region made
 * usable in another: key and IV re-wrapped for the target partition's EC2 certificate, kernel and ramdisk
 * replaced when given, signed again (see migrateManifest in @bundlefarm/format). `migrate-bundle` does
 * the same and copies the parts in S3.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { FileUnwritableError } from '@bundlefarm/errors';
import { checkImageId, migrateManifest, readCertificateFile, type ParsedManifest, type SignedManifest } from '@bundlefarm/format';
import { out, type CliIo } from '../cli-io.js';
import { loadEc2Certificate, loadPrivateKey } from '../load-identity.js';
import { readManifestFile } from '../read-manifest.js';
import { printJson } from '../s3-options.js';

export interface MigrateFlags {
  privatekey: string;
  cert: string;
  region: string;
  kernel?: string;
  ramdisk?: string;
  ec2cert?: string;
}

/** Adds -k, -c, --region, --kernel, --ramdisk, --ec2cert (ec2-migrate-manifest's names). */
export function addMigrateOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-k, --privatekey <pem>', "user's RSA private key the bundle was made for (passphrase in $BUNDLEFARM_KEY_PASSPHRASE)")
    .requiredOption('-c, --cert <pem>', "user's certificate: the manifest must verify with it before it is signed again")
    .requiredOption('--region <region>', 'target region: picks the EC2 certificate of its partition')
    .option('--kernel <aki>', 'kernel id in the target region (aki-xxxxxxxx)')
    .option('--ramdisk <ari>', 'ramdisk id in the target region (ari-xxxxxxxx)')
    .option('--ec2cert <pem>', "EC2's certificate to wrap the key for (default: the one of --region's partition)");
}

/** Loads the keys and migrates `parsed` for the flags' region. */
export async function migrateWithFlags(parsed: ParsedManifest, opts: MigrateFlags, io: CliIo): Promise<SignedManifest> {
  const kernelId = opts.kernel !== undefined ? checkImageId(opts.kernel, 'aki', '--kernel') : undefined;
  const ramdiskId = opts.ramdisk !== undefined ? checkImageId(opts.ramdisk, 'ari', '--ramdisk') : undefined;
  const [privateKey, certificate, ec2Certificate] = await Promise.all([
    loadPrivateKey(opts.privatekey, io.env),
    readCertificateFile(opts.cert),
    loadEc2Certificate(opts.ec2cert, opts.region),
  ]);
  const migrated = migrateManifest(parsed, {
    user: { privateKey, certificate },
    ec2Certificate,
    ...(kernelId !== undefined ? { kernelId } : {}),
    ...(ramdiskId !== undefined ? { ramdiskId } : {}),
  });
  const mc = migrated.manifest.machineConfiguration;
  if (mc?.kernelId !== undefined && kernelId === undefined) {
    io.stderr.write(`bundlefarm: warning: the manifest keeps kernel ${mc.kernelId}; kernel ids differ per region, give --kernel for ${opts.region}\n`);
  }
  if (mc?.ramdiskId !== undefined && ramdiskId === undefined) {
    io.stderr.write(`bundlefarm: warning: the manifest keeps ramdisk ${mc.ramdiskId}; ramdisk ids differ per region, give --ramdisk for ${opts.region}\n`);
  }
  return migrated;
}

interface MigrateManifestFlags extends MigrateFlags {
  manifest: string;
  output?: string;
  json?: boolean;
}

export function registerMigrateManifest(program: Command, io: CliIo): void {
  const cmd = program
    .command('migrate-manifest')
    .description('make a manifest usable in another region (ec2-migrate-manifest compatible): re-wrap the key, replace kernel/ramdisk, re-sign')
    .requiredOption('-m, --manifest <path>', 'NAME.manifest.xml (rewritten in place, the original kept as NAME.manifest.xml.bak, unless -o)')
    .option('-o, --output <path>', 'write the migrated manifest here instead')
    .option('--json', 'print the result as one JSON object', false);
  addMigrateOptions(cmd).action(async (opts: MigrateManifestFlags) => {
    const parsed = await readManifestFile(opts.manifest);
    const migrated = await migrateWithFlags(parsed, opts, io);
    const output = opts.output ?? opts.manifest;
    let backup: string | undefined;
    if (opts.output === undefined) {
      backup = `${opts.manifest}.bak`;
      await copyFile(opts.manifest, backup).catch((err: unknown) => {
        throw new FileUnwritableError(backup!, err);
      });
    }
    await writeAtomically(output, migrated.xml);
    const mc = migrated.manifest.machineConfiguration;
    if (opts.json) {
      printJson(io, { manifest: output, backup, region: opts.region, kernel: mc?.kernelId ?? null, ramdisk: mc?.ramdiskId ?? null });
      return;
    }
    out(io, `manifest: ${output} (for ${opts.region}${mc?.kernelId ? `, kernel ${mc.kernelId}` : ''}${mc?.ramdiskId ? `, ramdisk ${mc.ramdiskId}` : ''})`);
    if (backup) out(io, `original: ${backup}`);
  });
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, text, { flag: 'wx' });
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true }).catch(() => {});
    throw new FileUnwritableError(path, err);
  }
}
