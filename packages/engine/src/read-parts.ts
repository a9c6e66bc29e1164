import { createHash } from 'node:crypto';
import { FileUnreadableError, isBundlefarmError, PartMissingError, PartTamperedError } from '@bundlefarm/errors';
import { MAX_PART_BYTES, type ManifestPart } from '@bundlefarm/format';
import type { PartSource } from './part-source.js';

export { MAX_PART_BYTES };

function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown; name?: unknown } | null)?.code ?? (err as { name?: unknown } | null)?.name;
  return code === 'ENOENT' || code === 'NoSuchKey' || code === 'NotFound';
}

/**
 * Reads the parts of a manifest in index order and yields each one only after its SHA-1 matched the
 * manifest, so nothing downstream ever sees untrusted bytes. The next part is fetched while the caller
 * works on the current one.
 */
export async function* readVerifiedParts(
  parts: readonly ManifestPart[],
  source: PartSource,
  signal?: AbortSignal,
): AsyncGenerator<{ part: ManifestPart; data: Buffer }> {
  const fetch = (part: ManifestPart): Promise<Buffer> =>
    source.readPart(part.filename, MAX_PART_BYTES).catch((err: unknown) => {
      if (isMissing(err)) throw new PartMissingError(part.index, part.filename, { cause: err });
      // errors with their own code (unsafe name, S3 unavailable: transient) keep it
      if (isBundlefarmError(err)) throw err;
      throw new FileUnreadableError(`${source.location}/${part.filename}`, err);
    });
  const sorted = [...parts].sort((a, b) => a.index - b.index);
  let next = sorted.length > 0 ? fetch(sorted[0]!) : undefined;
  for (let i = 0; i < sorted.length; i++) {
    signal?.throwIfAborted();
    const part = sorted[i]!;
    const current = next!;
    current.catch(() => {});
    next = i + 1 < sorted.length ? fetch(sorted[i + 1]!) : undefined;
    next?.catch(() => {});
    const data = await current;
    const actual = createHash('sha1').update(data).digest('hex');
    if (actual !== part.digest.toLowerCase()) throw new PartTamperedError(part.index, part.filename, part.digest, actual);
    yield { part, data };
  }
}
