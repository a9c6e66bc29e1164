import { InvalidAccountError, InvalidArchitectureError, InvalidNameError, InvalidOptionError } from '@bundlefarm/errors';
import { ARCHITECTURES, type Architecture, type BlockDeviceMapping } from './manifest.js';

/** Validation of the user-facing bundle parameters, shared by the CLI, the API and the worker. */

/** `1234-5678-9012` → `123456789012`; anything but 12 digits after removing hyphens is refused. */
export function normalizeAccountId(value: string): string {
  const digits = value.trim().replace(/-/g, '');
  if (!/^\d{12}$/.test(digits)) throw new InvalidAccountError(value);
  return digits;
}

export function parseArchitecture(value: string): Architecture {
  if (!(ARCHITECTURES as readonly string[]).includes(value)) throw new InvalidArchitectureError(value);
  return value as Architecture;
}

/**
 * A bundle name is the tar member name, the prefix of every part and S3 key, and is pasted into shell
 * commands by Amazon's tools: keep it to `[A-Za-z0-9._-]`, 1..100 characters, not `.` or `..`.
 */
export function checkBundleName(name: string): string {
  if (name.length === 0) throw new InvalidNameError(name, 'it is empty');
  if (name.length > 100) throw new InvalidNameError(name, `it is ${name.length} characters long; at most 100 fit a tar header`);
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new InvalidNameError(name, 'only letters, digits, ".", "_" and "-" are allowed');
  if (name === '.' || name === '..') throw new InvalidNameError(name, 'it is a directory name');
  // unbundle refuses to write an image as a hidden file (safe-file-name.ts): never make a bundle it refuses
  if (name.startsWith('.')) throw new InvalidNameError(name, 'it starts with "." (a hidden file, which unbundle refuses to write)');
  return name;
}

/** `ami=sda1,root=/dev/sda1,ephemeral0=sdb` → mappings (ec2-bundle-image `--block-device-mapping`). */
export function parseBlockDeviceMapping(value: string): BlockDeviceMapping[] {
  const out: BlockDeviceMapping[] = [];
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_-]+)=(\/?[A-Za-z0-9/_-]+)$/.exec(item);
    if (!m) throw new InvalidOptionError('block device mapping', `${JSON.stringify(item)} is not virtual=device (e.g. root=/dev/sda1)`);
    if (out.some((o) => o.virtual === m[1])) {
      throw new InvalidOptionError('block device mapping', `virtual name ${m[1]} is mapped twice`);
    }
    out.push({ virtual: m[1]!, device: m[2]! });
  }
  if (out.length === 0) throw new InvalidOptionError('block device mapping', 'it is empty');
  return out;
}

const AWS_ID = /^(aki|ari|ami)-[0-9a-f]{8}([0-9a-f]{9})?$/;

export function checkImageId(value: string, kind: 'aki' | 'ari', option: string): string {
  if (!AWS_ID.test(value) || !value.startsWith(kind)) {
    throw new InvalidOptionError(option, `${JSON.stringify(value)} is not an ${kind}-xxxxxxxx id`);
  }
  return value;
}

/** `--productcodes A,B` → ['A', 'B'] (one <product_code> each, as euca2ools and EC2's documentation). */
export function parseProductCodes(value: string): string[] {
  const codes = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of codes) {
    if (!/^[A-Za-z0-9]{1,64}$/.test(c)) throw new InvalidOptionError('product codes', `${JSON.stringify(c)} is not a product code`);
  }
  if (codes.length === 0) throw new InvalidOptionError('product codes', 'it is empty');
  return codes;
}
