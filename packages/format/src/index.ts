// @bundlefarm/format: the ec2-bundle-image bundle format (manifest 2007-10-10, tar, part names, keys),
// byte-compatible with ec2-ami-tools, and the rules for the values that go into it.

// Sizes the format fixes (10 GiB images, 10 MiB parts).
export { MAX_IMAGE_SIZE, PART_SIZE, MAX_PART_BYTES } from './limits.js';
// The tar stream: headers (sparse ones too) and a member reader that refuses hostile archives.
export { buildTarHeader, buildSparseTarHeader, tarStreamLength, type TarMemberInfo, type DataRun } from './tar-header.js';
export { TarMemberReader, type TarMember, type TarReaderOptions } from './tar-reader.js';
// The manifest: its model, parsing, writing, building and signing, signature checks and migration to another region.
export { type BundleManifest, type ManifestPart, type ManifestImage, type MachineConfiguration, type BlockDeviceMapping, type Architecture } from './manifest.js';
export { parseManifest, MAX_MANIFEST_SIZE, type ManifestParseOptions, type ParsedManifest } from './manifest-parse.js';
export { serializeManifest, serializeImage, serializeMachineConfiguration } from './manifest-serialize.js';
export { buildSignedManifest, type ManifestSpec, type BundleFacts, type UserIdentity, type SignedManifest } from './manifest-build.js';
export { verifyManifestSignature, verifyManifestText, signManifestText } from './manifest-signature.js';
export { migrateManifest, type MigrateManifestOptions } from './manifest-migrate.js';
// Keys and certificates: reading them, the bundle's AES secret wrapped for a key, a throwaway identity.
export { readPrivateKeyFile, readCertificateFile, parsePrivateKey, parseCertificate, assertCertificateMatchesKey, type PrivateKeyMaterial, type CertificateMaterial, type PrivateKeyOptions } from './key-material.js';
export { generateBundleSecret, unwrapWithKey, wrapForKey, type BundleSecret } from './key-wrap.js';
export { generateSelfSignedIdentity, type GeneratedIdentity } from './self-signed-identity.js';
// Regions and partitions, and the EC2 certificate each one's manifests are wrapped for.
export { AWS_REGIONS, isRegionName, partitionOfRegion, ec2CertificateForRegion, ec2CertificateForPartition, type Partition } from './ec2-certificates.js';
export { ec2WrapFits, type Ec2WrapFit } from './ec2-wrap-check.js';
// Names: parts and manifests, file names that stay inside their directory.
export { partName, partCount, manifestName } from './part-naming.js';
export { isPlainFileName, imageFileNameProblem } from './safe-file-name.js';
// The rules for bundle parameters (name, account, architecture, kernel/ramdisk ids, block devices, product codes), shared by the CLI and the API.
export { checkBundleName, normalizeAccountId, parseArchitecture, checkImageId, parseBlockDeviceMapping, checkBlockDeviceMappings, parseProductCodes, checkProductCodes } from './bundle-parameters.js';
// Reading input files safely: bounded in size, regular files only.
export { readBoundedFile, type BoundedFile } from './bounded-file.js';
export { checkRegularFile } from './regular-file.js';

// For tests: the signed text of a manifest, and the tar reader's segments.
export { signedContent } from './manifest-signed-text.js';
export { type TarSegment } from './tar-reader.js';
