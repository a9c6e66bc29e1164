/**
 * `bundlefarm register BUCKET/PREFIX/NAME.manifest.xml -n NAME …`: registers an uploaded bundle as an
 * instance-store AMI (EC2 RegisterImage through @aws-sdk/client-ec2), with ec2-register's flag names.
 * Idempotent: an image of that name already registered from the same manifest is reported, not
 * registered again (a re-run after a lost answer is safe); an image of that name from another manifest
 * is BF_AMI_NAME_TAKEN. Prints `IMAGE<TAB>ami-…` as ec2-register does (or JSON with --json).
 */
import type { Command } from 'commander';
import { createEc2Client, parseManifestLocation, registerOnce, type BlockDeviceMappingEntry } from '@bundlefarm/ec2';
import { InvalidOptionError } from '@bundlefarm/errors';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { blockDeviceOption, ec2SettingsFrom } from '../ec2-options.js';

interface RegisterFlags {
  name: string;
  description?: string;
  region?: string;
  architecture?: string;
  kernel?: string;
  ramdisk?: string;
  blockDeviceMapping?: BlockDeviceMappingEntry[];
  virtualizationType?: string;
  endpoint?: string;
  json?: boolean;
}

function oneOf<T extends string>(option: string, values: readonly T[], value: string | undefined): T | undefined {
  if (value === undefined) return undefined;
  if (!(values as readonly string[]).includes(value)) throw new InvalidOptionError(option, `${JSON.stringify(value)} is not one of ${values.join(', ')}`);
  return value as T;
}

export function registerRegister(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  program
    .command('register')
    .description('register an uploaded bundle as an instance-store AMI (EC2 RegisterImage); prints IMAGE<TAB>ami-…')
    .argument('<manifest>', 'the manifest in S3: BUCKET/[PREFIX/]NAME.manifest.xml (or s3://…)')
    .requiredOption('-n, --name <name>', "AMI name: 3-128 letters, digits, spaces and ( ) [ ] . / - ' @ _")
    .option('-d, --description <text>', 'AMI description (up to 255 characters)')
    .option('--region <region>', 'region to register in (default $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1); the bucket must be in it')
    .option('-a, --architecture <arch>', 'i386 or x86_64 (default: the manifest\'s)')
    .option('--kernel <aki>', 'kernel id (aki-…)')
    .option('--ramdisk <ari>', 'ramdisk id (ari-…)')
    .option('-b, --block-device-mapping <virtual=device>', 'instance store volume, e.g. ephemeral0=sdb (repeatable, or comma-separated)', blockDeviceOption)
    .option('--virtualization-type <type>', 'paravirtual or hvm (default EC2\'s: paravirtual)')
    .option('--endpoint <url>', 'EC2 endpoint URL (default AWS\'s for the region)')
    .option('--json', 'print {"imageId", "region", "name", "imageLocation", "adopted"} as JSON', false)
    .action(async (manifest: string, opts: RegisterFlags) => {
      const location = parseManifestLocation(manifest);
      const settings = ec2SettingsFrom(opts, io.env);
      const architecture = oneOf('--architecture', ['i386', 'x86_64'] as const, opts.architecture);
      const virtualizationType = oneOf('--virtualization-type', ['paravirtual', 'hvm'] as const, opts.virtualizationType);
      const client = createEc2Client(settings);
      try {
        const result = await registerOnce(
          client,
          {
            manifest: location,
            name: opts.name,
            ...(opts.description !== undefined ? { description: opts.description } : {}),
            ...(architecture !== undefined ? { architecture } : {}),
            ...(opts.kernel !== undefined ? { kernelId: opts.kernel } : {}),
            ...(opts.ramdisk !== undefined ? { ramdiskId: opts.ramdisk } : {}),
            ...(virtualizationType !== undefined ? { virtualizationType } : {}),
            ...(opts.blockDeviceMapping !== undefined ? { blockDeviceMappings: opts.blockDeviceMapping } : {}),
          },
          { region: settings.region },
        );
        if (opts.json) {
          out(io, JSON.stringify({ imageId: result.imageId, region: settings.region, name: opts.name, imageLocation: `${location.bucket}/${location.key}`, adopted: result.adopted }));
        } else {
          if (result.adopted && !flags().quiet) io.stderr.write(`bundlefarm: ${opts.name} was already registered from this manifest as ${result.imageId}\n`);
          out(io, `IMAGE\t${result.imageId}`);
        }
      } finally {
        client.destroy();
      }
    });
}
