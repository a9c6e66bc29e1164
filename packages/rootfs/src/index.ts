// @bundlefarm/rootfs: ext4 images built from a root tree or a tarball (bundle-vol, bundle-tar and
// filesystem jobs), with secrets left out by an exclusion policy.

// Building an image for the duration of a callback, from a tree or a tarball, with its options and what it excluded.
export { withRootfsImage, type RootfsSource, type BuildRootfsOptions, type BuiltRootfs } from './build-rootfs-image.js';
export { type OwnerMapping } from './tree-source.js';
export { type PartitionScheme } from './partition-table.js';
export { type ExclusionSummary } from './exclusion-policy.js';
// Scratch space: what a crashed build left behind is removed at start-up.
export { removeStaleScratch } from './scratch-space.js';
// What building can fail with.
export { ToolMissingError, FilesystemBuildError, FilesystemFullError, EntryUnsupportedError, TarballInvalidError, TreeUnreadableError, ScratchSpaceError, ScratchLimitError } from './rootfs-errors.js';

// For tests: the tarball reader, the exclusion policy and the scratch directories' prefix, checked on their own.
export { readTarEntries, type TarEntry } from './rootfs-tar-reader.js';
export { ByteReader } from './byte-reader.js';
export { ExclusionPolicy, looksLikePrivateKey } from './exclusion-policy.js';
export { SCRATCH_PREFIX } from './scratch-space.js';
