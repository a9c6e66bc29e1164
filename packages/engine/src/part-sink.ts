/**
 * Where a bundle's parts go. The engine hands over each 10 MiB part as soon as it is encrypted, in
 * index order, with its SHA-1; it does not know the final part count (and so ec2-bundle-image's
 * zero-padded names) until the last part. Sinks either rename at the end (directory) or fix the names
 * from an upper bound up front (object stores, which cannot rename).
 *
 * Contract (tested against every implementation, see test/part-sink.contract.ts):
 *  - `begin` before anything else; `putPart` for index 0, 1, 2 … (up to `maxInFlight` concurrently);
 *    the engine reuses a part's buffer once its `putPart` has resolved, so sinks must not keep it;
 *  - `commitParts(count)` only after every `putPart` resolved: afterwards every part is durable under
 *    the file name it returns (index order), and nothing else of this bundle is visible yet;
 *  - `putManifest` only after `commitParts`: the manifest never exists while a part it names is missing;
 *  - `abort` at any time removes everything this bundle attempt wrote (parts and manifest) and is
 *    idempotent; after `abort`, other calls reject.
 */
export interface PartData {
  index: number;
  data: Buffer;
  /** SHA-1 of `data`, lowercase hex. */
  sha1: string;
}

export interface SinkBeginInfo {
  /** Bundle name: parts are NAME.part.K, the manifest NAME.manifest.xml. */
  name: string;
  /** Largest part count this bundle can reach (from the image size), for sinks that name up front. */
  maxPartCount: number;
}

export interface PartSink {
  /** How many `putPart` calls may be pending at once (the engine respects it). */
  readonly maxInFlight: number;
  begin(info: SinkBeginInfo): Promise<void>;
  putPart(part: PartData): Promise<void>;
  /** Returns the part file names in index order. */
  commitParts(count: number): Promise<string[]>;
  putManifest(fileName: string, xml: string): Promise<void>;
  abort(): Promise<void>;
}
