/** Fixed numbers of the EC2 bundle format (manifest version 2007-10-10). */

/** Largest image ec2-bundle-image accepts: 10 GiB. */
export const MAX_IMAGE_SIZE = 10 * 1024 * 1024 * 1024;

/** Size of every part but the last: 10 MiB (ec2-bundle-image `bundle.rb`). */
export const PART_SIZE = 10 * 1024 * 1024;

/** GNU tar's default record: 20 blocks of 512 bytes. The tar stream is padded to a multiple of it. */
export const TAR_RECORD_SIZE = 10240;
export const TAR_BLOCK_SIZE = 512;

export const MANIFEST_VERSION = '2007-10-10';

/** Largest part file accepted: ec2 parts are 10 MiB; other tools allow other sizes, up to this. */
export const MAX_PART_BYTES = 8 * PART_SIZE;
