/**
 * Options the EC2 commands (register, deregister) share: which region and endpoint, and ec2-register's
 * block device mapping flag. Credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID …,
 * profiles, SSO, instance roles), never from arguments.
 */
import { InvalidOptionError } from '@bundlefarm/errors';
import type { BlockDeviceMappingEntry, Ec2Settings } from '@bundlefarm/ec2';

export interface Ec2Flags {
  region?: string;
  endpoint?: string;
}

/** Default region when neither --region nor AWS_REGION / AWS_DEFAULT_REGION says (ec2-ami-tools' default). */
export const DEFAULT_EC2_REGION = 'us-east-1';

/**
 * The AWS SDK warns on stderr once per process that its releases after January 2027 need Node 22: a
 * multi-line notice in the middle of a command whose errors are one line. It is an advisory about
 * future SDK releases, not about this run, so the EC2 commands turn it off (unless the user set the
 * SDK's own switch, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED, either way).
 */
export function quietSdkNodeVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/** `--region`, else `$AWS_REGION`, else `$AWS_DEFAULT_REGION`, else us-east-1. */
export function ec2SettingsFrom(flags: Ec2Flags, env: NodeJS.ProcessEnv): Ec2Settings {
  quietSdkNodeVersionWarning();
  const region = flags.region ?? (env.AWS_REGION || undefined) ?? (env.AWS_DEFAULT_REGION || undefined) ?? DEFAULT_EC2_REGION;
  return { region, ...(flags.endpoint !== undefined ? { endpoint: flags.endpoint } : {}) };
}

const VIRTUAL = /^ephemeral\d{1,2}$/;

/**
 * `-b virtual=device[,virtual=device…]`, repeatable: instance store volumes of the AMI, e.g.
 * `-b ephemeral0=sdb`. ec2-register's own order (`/dev/sdb=ephemeral0`) is accepted as well, so
 * existing scripts keep working. Collects into `previous`.
 */
export function blockDeviceOption(value: string, previous: BlockDeviceMappingEntry[] = []): BlockDeviceMappingEntry[] {
  const out = [...previous];
  for (const pair of value.split(',')) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(pair.trim());
    if (!m) throw new InvalidOptionError('--block-device-mapping', `${JSON.stringify(pair)} is not virtual=device (e.g. ephemeral0=sdb)`);
    const [, left, right] = m as unknown as [string, string, string];
    if (VIRTUAL.test(left)) out.push({ virtual: left, device: right });
    else if (VIRTUAL.test(right)) out.push({ virtual: right, device: left });
    else throw new InvalidOptionError('--block-device-mapping', `${JSON.stringify(pair)} maps no instance store volume (ephemeral0 to ephemeral23)`);
  }
  return out;
}
