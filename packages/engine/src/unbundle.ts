/*
 * Unbundle: check the signature (when a certificate is given), decrypt the AES key and IV with the
 * user's private key, then stream parts (each SHA-1-checked before use) → AES-128-CBC → gunzip → tar
 * reader → the image file, checking the tar stream's SHA-1 and the size at the end. The image is written
 * to a temporary file (mode 0600, O_EXCL) next to its final path and only linked into place when every
 * check passed; holes of sparse images (and long zero runs) stay holes.
 *
 * The image is written as `output`, or as DESTINATION/<the manifest's <image><name>> — never under the
 * tar member's name: the manifest's name must be a safe file name (no leading dot, no control or format
 * characters; BF_BAD_NAME otherwise, before anything is decrypted) and the tar member must be named
 * exactly like it (BF_ARCHIVE_INVALID otherwise), as every bundler names it.
 */
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { link, lstat, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import {
  ArchiveInvalidError,
  CancelledError,
  DestinationExistsError,
  FileUnwritableError,
  ImageDigestMismatchError,
  ImageSizeMismatchError,
  InvalidNameError,
  InvalidOptionError,
  isBundlefarmError,
} from '@bundlefarm/errors';
import {
  imageFileNameProblem,
  TarMemberReader,
  tarStreamLength,
  unwrapWithKey,
  verifyManifestSignature,
  type CertificateMaterial,
  type ParsedManifest,
  type PrivateKeyMaterial,
} from '@bundlefarm/format';
import type { PartSource } from './part-source.js';
import { CreatedDirectories } from './created-directories.js';
import { readVerifiedParts } from './read-parts.js';

export interface UnbundleOptions {
  manifest: ParsedManifest;
  privateKey: PrivateKeyMaterial;
  source: PartSource;
  /** Directory to write the image into, as the manifest's `<image><name>` (created if missing). Give this or `output`. */
  destination?: string;
  /** Exact path of the image file to write (its directory must exist). Give this or `destination`. */
  output?: string;
  /** When given, the manifest's signature must verify with it before anything is decrypted. */
  certificate?: CertificateMaterial;
  /** Replace an existing file at the image's path (default false: refuse). */
  overwrite?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: { partsDone: number; partsTotal: number; bytesOut: number }) => void;
}

export interface UnbundleResult {
  /** Path of the image written. */
  path: string;
  /** The manifest's `<image><name>` (also the tar member's name). */
  name: string;
  size: number;
  digest: string;
}

const ZERO_RUN = 64 * 1024;

export async function unbundle(options: UnbundleOptions): Promise<UnbundleResult> {
  const image = options.manifest.manifest.image;
  if (options.output !== undefined && options.destination !== undefined) {
    throw new InvalidOptionError('output', 'give either an output file or a destination directory, not both');
  }
  if (options.output === undefined && options.destination === undefined) {
    throw new InvalidOptionError('output', 'give an output file or a destination directory');
  }
  if (options.certificate) {
    verifyManifestSignature(options.manifest, options.certificate.publicKey, options.certificate.source);
  }
  const problem = imageFileNameProblem(image.name);
  if (problem) throw new InvalidNameError(image.name, `${problem}; the image file would be named after it`);
  const key = unwrapWithKey(image.userEncryptedKey, options.privateKey, 'key');
  const iv = unwrapWithKey(image.userEncryptedIv, options.privateKey, 'IV');

  const dest = options.output ?? join(options.destination!, image.name);
  const dir = dirname(dest);
  if (!options.overwrite) await assertFree(dest);
  // -d DIR is created when missing, and removed again (when still empty) if the unbundle fails
  const created = new CreatedDirectories();
  if (options.output === undefined) {
    try {
      await created.make(dir);
    } catch (err) {
      throw new FileUnwritableError(dir, err);
    }
  } else {
    // -o names a file in an existing directory: a typo must not create directories.
    let isDir: boolean;
    try {
      isDir = (await stat(dir)).isDirectory();
    } catch (err) {
      throw new FileUnwritableError(dir, err);
    }
    if (!isDir) throw new FileUnwritableError(dir, Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }));
  }
  const temp = join(dir, `.${basename(dest)}.unbundle-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  let handle: FileHandle;
  try {
    // 0600: a decrypted root filesystem is nobody else's business (0666 & ~umask would be world-readable).
    handle = await open(temp, 'wx', 0o600);
  } catch (err) {
    // named as the file the user asked for, not the hidden temporary name
    await created.removeIfEmpty();
    throw new FileUnwritableError(dest, err);
  }

  const tarHash = createHash('sha1');
  const reader = new TarMemberReader({ maxSize: image.size, expectedName: image.name });
  const maxTar = tarStreamLength(image.size);
  let tarBytes = 0;
  let committed = false;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, iv);
    let partsDone = 0;
    let bytesOut = 0;
    const total = image.parts.length;
    const ciphertext = async function* (): AsyncGenerator<Buffer> {
      for await (const { data } of readVerifiedParts(image.parts, options.source, options.signal)) {
        const plain = decipher.update(data);
        partsDone++;
        options.onProgress?.({ partsDone, partsTotal: total, bytesOut });
        if (plain.length > 0) yield plain;
      }
      let last: Buffer;
      try {
        last = decipher.final();
      } catch (err) {
        throw new ArchiveInvalidError('decryption failed at the end of the last part (bad padding): the key, IV or parts do not belong together', {
          cause: err,
        });
      }
      if (last.length > 0) yield last;
    };
    const extract = async (source: AsyncIterable<Buffer>): Promise<void> => {
      for await (const chunk of source) {
        tarBytes += chunk.length;
        if (tarBytes > maxTar) {
          throw new ArchiveInvalidError(`the bundle decompresses to more than the ${maxTar}-byte tar stream of a ${image.size}-byte image`);
        }
        tarHash.update(chunk);
        for (const segment of reader.push(chunk)) {
          bytesOut += await writeSegment(handle, segment.offset, segment.data, dest);
        }
      }
    };
    try {
      await pipeline(ciphertext, createGunzip({ chunkSize: 256 * 1024 }), extract, ...(options.signal ? [{ signal: options.signal }] : []));
    } catch (err) {
      if (options.signal?.aborted) throw new CancelledError('unbundle', { cause: err });
      if (isBundlefarmError(err)) throw err;
      if (typeof (err as { errno?: unknown }).errno === 'number' && /header|data|check|unexpected end/i.test(String((err as Error).message))) {
        throw new ArchiveInvalidError(`the decrypted bundle is not valid gzip data (${(err as Error).message})`, { cause: err });
      }
      throw err;
    }
    const member = reader.end();
    const digest = tarHash.digest('hex');
    if (digest !== image.digest.toLowerCase()) throw new ImageDigestMismatchError(image.digest, digest);
    if (member.size !== image.size) throw new ImageSizeMismatchError(image.size, member.size);

    await handle.truncate(member.size);
    await handle.datasync();
    await handle.close();
    await publish(temp, dest, options.overwrite ?? false);
    committed = true;
    return { path: dest, name: image.name, size: member.size, digest };
  } finally {
    if (!committed) {
      await handle.close().catch(() => {});
    }
    await rm(temp, { force: true });
    if (!committed) await created.removeIfEmpty();
  }
}

async function writeSegment(handle: FileHandle, offset: number, data: Buffer, path: string): Promise<number> {
  // Leave long zero runs as holes: the file is truncated to its full size at the end.
  if (data.length >= ZERO_RUN && isZero(data)) return data.length;
  let at = 0;
  try {
    while (at < data.length) {
      const { bytesWritten } = await handle.write(data, at, data.length - at, offset + at);
      at += bytesWritten;
    }
  } catch (err) {
    throw new FileUnwritableError(path, err);
  }
  return data.length;
}

let zeros = Buffer.alloc(0);
function isZero(data: Buffer): boolean {
  if (zeros.length < data.length) zeros = Buffer.alloc(data.length);
  return data.equals(zeros.subarray(0, data.length));
}

/** Move the finished temp file into place: atomic, and refusing to replace unless asked to. */
async function publish(temp: string, dest: string, overwrite: boolean): Promise<void> {
  try {
    if (overwrite) await rename(temp, dest);
    else await link(temp, dest);
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST' || (err as { code?: string }).code === 'EISDIR') {
      throw new DestinationExistsError(dest);
    }
    throw new FileUnwritableError(dest, err);
  }
}

async function assertFree(dest: string): Promise<void> {
  if (await lstat(dest).then(() => true, () => false)) throw new DestinationExistsError(dest);
}
