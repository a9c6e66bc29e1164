import { ManifestMalformedError } from '@bundlefarm/errors';
import { MAX_MANIFEST_SIZE, parseManifest, readBoundedFile, type ParsedManifest } from '@bundlefarm/format';

/**
 * Reads and parses `-m`. Never more than the largest manifest accepted is read: `-m` naming a device
 * (/dev/zero) or an image by mistake must fail at once, not read until memory runs out.
 */
export async function readManifestFile(path: string): Promise<ParsedManifest> {
  const { data, complete } = await readBoundedFile(path, MAX_MANIFEST_SIZE);
  if (!complete) throw new ManifestMalformedError(`${path} holds more than ${MAX_MANIFEST_SIZE} bytes, over the limit of a manifest`);
  return parseManifest(data);
}
