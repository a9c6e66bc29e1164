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

/** Most mappings and product codes a manifest carries (the API's and the CLI's limit alike). */
export const MAX_BLOCK_DEVICE_MAPPINGS = 32;
export const MAX_PRODUCT_CODES = 16;

const VIRTUAL_NAME = /^[A-Za-z0-9_-]{1,32}$/;
const DEVICE_NAME = /^\/?[A-Za-z0-9/_-]{1,64}$/;

/**
 * The rules a list of block device mappings must follow, wherever it comes from (`-B` on the CLI, a job
 * spec's `blockDeviceMapping`): names of the allowed characters and lengths, each virtual name once, at
 * most MAX_BLOCK_DEVICE_MAPPINGS, not empty.
 */
export function checkBlockDeviceMappings(mappings: readonly BlockDeviceMapping[]): BlockDeviceMapping[] {
  const seen = new Set<string>();
  for (const { virtual, device } of mappings) {
    if (!VIRTUAL_NAME.test(virtual)) throw new InvalidOptionError('block device mapping', `virtual name ${JSON.stringify(virtual)} is not 1–32 letters, digits, "_" or "-"`);
    if (!DEVICE_NAME.test(device)) throw new InvalidOptionError('block device mapping', `device ${JSON.stringify(device)} is not a device name (e.g. /dev/sda1)`);
    if (seen.has(virtual)) throw new InvalidOptionError('block device mapping', `virtual name ${virtual} is mapped twice`);
    seen.add(virtual);
  }
  if (mappings.length === 0) throw new InvalidOptionError('block device mapping', 'it is empty');
  if (mappings.length > MAX_BLOCK_DEVICE_MAPPINGS) throw new InvalidOptionError('block device mapping', `${mappings.length} mappings; at most ${MAX_BLOCK_DEVICE_MAPPINGS}`);
  return mappings.map((m) => ({ virtual: m.virtual, device: m.device }));
}

/** `ami=sda1,root=/dev/sda1,ephemeral0=sdb` → mappings (ec2-bundle-image `--block-device-mapping`). */
export function parseBlockDeviceMapping(value: string): BlockDeviceMapping[] {
  const out: BlockDeviceMapping[] = [];
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq < 0) throw new InvalidOptionError('block device mapping', `${JSON.stringify(item)} is not virtual=device (e.g. root=/dev/sda1)`);
    out.push({ virtual: item.slice(0, eq), device: item.slice(eq + 1) });
  }
  return checkBlockDeviceMappings(out);
}

const AWS_ID = /^(aki|ari|ami)-[0-9a-f]{8}([0-9a-f]{9})?$/;

export function checkImageId(value: string, kind: 'aki' | 'ari', option: string): string {
  if (!AWS_ID.test(value) || !value.startsWith(kind)) {
    throw new InvalidOptionError(option, `${JSON.stringify(value)} is not an ${kind}-xxxxxxxx id`);
  }
  return value;
}

/** The rules for product codes wherever they come from: 1–64 letters and digits each, 1–MAX_PRODUCT_CODES of them. */
export function checkProductCodes(codes: readonly string[]): string[] {
  for (const c of codes) {
    if (!/^[A-Za-z0-9]{1,64}$/.test(c)) throw new InvalidOptionError('product codes', `${JSON.stringify(c)} is not a product code`);
  }
  if (codes.length === 0) throw new InvalidOptionError('product codes', 'it is empty');
  if (codes.length > MAX_PRODUCT_CODES) throw new InvalidOptionError('product codes', `${codes.length} codes; at most ${MAX_PRODUCT_CODES}`);
  return [...codes];
}

/** `--productcodes A,B` → ['A', 'B'] (one <product_code> each, as euca2ools and EC2's documentation). */
export function parseProductCodes(value: string): string[] {
  return checkProductCodes(value.split(',').map((s) => s.trim()).filter(Boolean));
}
