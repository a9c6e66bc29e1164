/**
 * `bundlefarm deregister AMI_ID [--region R]`: EC2 DeregisterImage, as ec2-deregister. The bundle in S3
 * stays where it is (remove it with delete-bundle). Prints `IMAGE<TAB>ami-…` (or JSON with --json).
 */
import type { Command } from 'commander';
import { createEc2Client, deregisterImage } from '@bundlefarm/ec2';
import { InvalidOptionError } from '@bundlefarm/errors';
import { out, type CliIo } from '../cli-io.js';
import { ec2SettingsFrom } from '../ec2-options.js';

interface DeregisterFlags {
  region?: string;
  endpoint?: string;
  json?: boolean;
}

export function registerDeregister(program: Command, io: CliIo): void {
  program
    .command('deregister')
    .description('deregister an AMI (EC2 DeregisterImage); its bundle stays in S3')
    .argument('<ami>', 'AMI id (ami-…)')
    .option('--region <region>', 'region of the AMI (default $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)')
    .option('--endpoint <url>', 'EC2 endpoint URL (default AWS\'s for the region)')
    .option('--json', 'print {"imageId", "region", "deregistered": true} as JSON', false)
    .action(async (ami: string, opts: DeregisterFlags) => {
      if (!/^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(ami)) throw new InvalidOptionError('AMI id', `${JSON.stringify(ami)} is not an AMI id (ami- and 8 or 17 hex digits)`);
      const settings = ec2SettingsFrom(opts, io.env);
      const client = createEc2Client(settings);
      try {
        await deregisterImage(client, ami, { region: settings.region });
      } finally {
        client.destroy();
      }
      out(io, opts.json ? JSON.stringify({ imageId: ami, region: settings.region, deregistered: true }) : `IMAGE\t${ami}`);
    });
}
