/**
 * The EC2 bundle manifest, version 2007-10-10, as a plain object. Field order and optionality follow
 * ec2-ami-tools 1.5.3 (`manifestv20071010.rb`). Hex strings are lowercase.
 */
export type Architecture = 'i386' | 'x86_64';
export const ARCHITECTURES: readonly Architecture[] = ['i386', 'x86_64'];

export interface BundlerInfo {
  name: string;
  version: string;
  release: string;
}

export interface BlockDeviceMapping {
  /** Virtual name: ami, root, swap, ephemeral0 ... */
  virtual: string;
  /** Device: sda1, /dev/sda1 ... */
  device: string;
}

export interface MachineConfiguration {
  architecture: string;
  /** Sorted by virtual name when serialized, as ec2-ami-tools does. */
  blockDeviceMapping?: BlockDeviceMapping[];
  kernelId?: string;
  ramdiskId?: string;
  productCodes?: string[];
}

export interface ManifestPart {
  /** 0-based position of the part in the ciphertext. */
  index: number;
  /** File name (S3 key suffix) of the part, e.g. `name.part.07`. */
  filename: string;
  /** SHA-1 of the part's bytes, lowercase hex. */
  digest: string;
}

export interface ManifestImage {
  name: string;
  /** 12-digit account number without hyphens. */
  user: string;
  /** "machine" for ec2-bundle-image; "kernel" / "ramdisk" exist in other tools. */
  type: string;
  kernelName?: string;
  ancestry?: string[];
  /** SHA-1 of the uncompressed tar stream, lowercase hex. */
  digest: string;
  /** Image file size in bytes. */
  size: number;
  /** Ciphertext size in bytes (sum of the part sizes). */
  bundledSize: number;
  /** AES key and IV (32-char hex strings) RSA-wrapped for EC2 and for the user, lowercase hex. */
  ec2EncryptedKey: string;
  userEncryptedKey: string;
  ec2EncryptedIv: string;
  userEncryptedIv: string;
  parts: ManifestPart[];
}

export interface BundleManifest {
  version: string;
  bundler: BundlerInfo;
  /** Absent in some other tools' manifests; always written by bundlefarm. */
  machineConfiguration?: MachineConfiguration;
  image: ManifestImage;
  /** Hex RSASSA-PKCS1-v1_5/SHA-1 signature; absent while building. */
  signature?: string;
}

/** What bundlefarm writes in `<bundler>`. */
export const BUNDLEFARM_BUNDLER: BundlerInfo = { name: 'bundlefarm', version: '0.1', release: '0' };
