/**
 * Where unbundle and verify read a bundle's parts from. Implementations must refuse names that would
 * leave their root (the manifest parser already refuses `/`, `\` and `..`, this is the second wall) and
 * must throw PartMissingError-friendly errors: `readPart` rejects with an error whose `code` is
 * 'ENOENT' (or 'NoSuchKey') when the part does not exist.
 */
export interface PartSource {
  /** Human-readable location, for messages. */
  readonly location: string;
  /** The whole part; rejects when it is larger than `maxBytes`. */
  readPart(fileName: string, maxBytes: number): Promise<Buffer>;
  /** The manifest text. */
  readManifest?(fileName: string): Promise<Buffer>;
}
