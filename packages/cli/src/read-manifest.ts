import { readFile } from 'node:fs/promises';
import { FileUnreadableError } from '@bundlefarm/errors';
import { parseManifest, type ParsedManifest } from '@bundlefarm/format';

export async function readManifestFile(path: string): Promise<ParsedManifest> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw new FileUnreadableError(path, err);
  }
  return parseManifest(data);
}
