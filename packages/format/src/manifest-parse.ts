import type { XMLParser } from 'fast-xml-parser';
import { ManifestMalformedError } from '@bundlefarm/errors';
import { MANIFEST_VERSION, MAX_IMAGE_SIZE } from './limits.js';
import type { BlockDeviceMapping, BundleManifest, MachineConfiguration, ManifestImage, ManifestPart } from './manifest.js';
import { fastXmlParser } from './lazy-modules.js';
import { unescapeXmlText } from './xml-text.js';

/**
 * Parse a 2007-10-10 manifest: ours, ec2-ami-tools' (single quotes) and euca2ools' (double quotes, with
 * an encoding declaration and a newline). Hostile input is refused with ManifestMalformedError before it
 * can cost anything: no DOCTYPE or entity declarations (nothing is ever expanded), a size cap, a cap on
 * every value's length, strict checks of numbers, hex, indexes and part file names.
 */
/** Largest manifest accepted by default, in bytes: a 10 GiB bundle's manifest is ~170 KB. */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

export interface ManifestParseOptions {
  /** Largest manifest accepted, in bytes (default MAX_MANIFEST_SIZE, 4 MiB). */
  maxBytes?: number;
  /** Longest text of one element (default 8192 characters). */
  maxValueLength?: number;
}

export interface ParsedManifest {
  manifest: BundleManifest;
  /** The text the manifest was parsed from; signatures are checked over it. */
  xml: string;
}

type Node = Record<string, unknown>;

const ARRAY_PATHS = new Set([
  'manifest.machine_configuration.block_device_mapping.mapping',
  'manifest.machine_configuration.product_codes.product_code',
  'manifest.image.ancestry.ancestor_ami_id',
  'manifest.image.parts.part',
]);

let parser: XMLParser | undefined;

const newParser = (): XMLParser =>
  new (fastXmlParser().XMLParser)({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    parseTagValue: false,
    parseAttributeValue: false,
    processEntities: false,
    htmlEntities: false,
    trimValues: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    isArray: (_name: string, jpath: unknown) => ARRAY_PATHS.has(String(jpath)),
  });

export function parseManifest(input: string | Buffer, options: ManifestParseOptions = {}): ParsedManifest {
  const maxBytes = options.maxBytes ?? MAX_MANIFEST_SIZE;
  const maxValue = options.maxValueLength ?? 8192;
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) throw new ManifestMalformedError(`it is ${size} bytes, over the ${maxBytes}-byte limit`);
  const xml = typeof input === 'string' ? input : input.toString('utf8');
  if (xml.trim() === '') throw new ManifestMalformedError('it is empty');
  if (/<!DOCTYPE|<!ENTITY|<!\[CDATA\[/i.test(xml)) {
    throw new ManifestMalformedError('DOCTYPE, entity declarations and CDATA are not allowed in a manifest');
  }
  const valid = fastXmlParser().XMLValidator.validate(xml);
  if (valid !== true) {
    throw new ManifestMalformedError(`not well-formed XML (line ${valid.err.line}: ${valid.err.msg})`);
  }
  let doc: Node;
  try {
    doc = (parser ??= newParser()).parse(xml) as Node;
  } catch (err) {
    throw new ManifestMalformedError('not well-formed XML', { cause: err });
  }
  const r = new Reader(maxValue);
  const root = r.child(doc, 'manifest', '');
  if (!root) throw new ManifestMalformedError('no <manifest> root element');
  const version = r.text(root, 'version', 'manifest');
  if (version !== MANIFEST_VERSION) {
    throw new ManifestMalformedError(`manifest version ${JSON.stringify(version)} is not supported (only ${MANIFEST_VERSION})`);
  }
  const bundlerNode = r.requireChild(root, 'bundler', 'manifest');
  const bundler = {
    name: r.text(bundlerNode, 'name', 'bundler'),
    version: r.text(bundlerNode, 'version', 'bundler'),
    release: r.text(bundlerNode, 'release', 'bundler'),
  };
  const mcNode = r.child(root, 'machine_configuration', 'manifest');
  const machineConfiguration = mcNode ? readMachineConfiguration(r, mcNode) : undefined;
  const image = readImage(r, r.requireChild(root, 'image', 'manifest'));
  const signature = r.optText(root, 'signature', 'manifest');
  if (signature !== undefined && signature !== 'UNSIGNED' && !/^[0-9a-fA-F]*$/.test(signature)) {
    throw new ManifestMalformedError('<signature> is not hex');
  }
  const manifest: BundleManifest = { version, bundler, image };
  if (machineConfiguration) manifest.machineConfiguration = machineConfiguration;
  if (signature !== undefined) manifest.signature = signature;
  return { manifest, xml };
}

function readMachineConfiguration(r: Reader, node: Node): MachineConfiguration {
  const mc: MachineConfiguration = { architecture: r.text(node, 'architecture', 'machine_configuration') };
  const bdm = r.child(node, 'block_device_mapping', 'machine_configuration');
  if (bdm) {
    mc.blockDeviceMapping = r.list(bdm, 'mapping').map(
      (m): BlockDeviceMapping => ({ virtual: r.text(m, 'virtual', 'mapping'), device: r.text(m, 'device', 'mapping') }),
    );
  }
  const kernelId = r.optText(node, 'kernel_id', 'machine_configuration');
  if (kernelId !== undefined) mc.kernelId = kernelId;
  const ramdiskId = r.optText(node, 'ramdisk_id', 'machine_configuration');
  if (ramdiskId !== undefined) mc.ramdiskId = ramdiskId;
  const pc = r.child(node, 'product_codes', 'machine_configuration');
  if (pc) mc.productCodes = r.list(pc, 'product_code').map((c) => r.value(c, 'product_code'));
  return mc;
}

function readImage(r: Reader, node: Node): ManifestImage {
  const name = r.text(node, 'name', 'image');
  if (!isPlainFileName(name)) throw new ManifestMalformedError(`image name ${JSON.stringify(name)} is not a plain file name`);
  const image: ManifestImage = {
    name,
    user: r.text(node, 'user', 'image'),
    type: r.text(node, 'type', 'image'),
    digest: r.hex(node, 'digest', 'image', 40),
    size: r.size(node, 'size', 'image'),
    bundledSize: r.size(node, 'bundled_size', 'image'),
    ec2EncryptedKey: r.hex(node, 'ec2_encrypted_key', 'image'),
    userEncryptedKey: r.hex(node, 'user_encrypted_key', 'image'),
    ec2EncryptedIv: r.hex(node, 'ec2_encrypted_iv', 'image'),
    userEncryptedIv: r.hex(node, 'user_encrypted_iv', 'image'),
    parts: [],
  };
  if (image.size > MAX_IMAGE_SIZE) throw new ManifestMalformedError(`image size ${image.size} is over the 10 GiB limit`);
  const kernelName = r.optText(node, 'kernel_name', 'image');
  if (kernelName !== undefined) image.kernelName = kernelName;
  const ancestry = r.child(node, 'ancestry', 'image');
  if (ancestry) image.ancestry = r.list(ancestry, 'ancestor_ami_id').map((a) => r.value(a, 'ancestor_ami_id'));

  const partsNode = r.requireChild(node, 'parts', 'image');
  const countAttr = partsNode['@count'];
  const list = r.list(partsNode, 'part');
  if (typeof countAttr !== 'string' || !/^\d{1,6}$/.test(countAttr)) {
    throw new ManifestMalformedError('<parts> has no valid count attribute');
  }
  const count = Number(countAttr);
  if (count !== list.length) throw new ManifestMalformedError(`<parts count='${count}'> but ${list.length} <part> elements`);
  if (count === 0) throw new ManifestMalformedError('the manifest lists no parts');
  const parts: ManifestPart[] = new Array<ManifestPart>(count);
  for (const p of list) {
    const idx = p['@index'];
    if (typeof idx !== 'string' || !/^\d{1,6}$/.test(idx)) throw new ManifestMalformedError('a <part> has no valid index attribute');
    const index = Number(idx);
    if (index >= count) throw new ManifestMalformedError(`part index ${index} is out of range for ${count} parts`);
    if (parts[index]) throw new ManifestMalformedError(`part index ${index} appears twice`);
    const filename = r.text(p, 'filename', 'part');
    if (!isPlainFileName(filename)) {
      throw new ManifestMalformedError(`part ${index} file name ${JSON.stringify(filename)} is not a plain file name`, {
        details: { index },
      });
    }
    parts[index] = { index, filename, digest: r.hex(p, 'digest', 'part', 40) };
  }
  const names = new Set(parts.map((p) => p.filename));
  if (names.size !== parts.length) throw new ManifestMalformedError('two parts have the same file name');
  image.parts = parts;
  return image;
}

/** A name that is safe to join to a directory or key prefix: one component, no traversal. */
export function isPlainFileName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 255 &&
    name !== '.' &&
    name !== '..' &&
    !/[/\\\0]/.test(name) &&
    // no control characters
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    !/[\x00-\x1f\x7f]/.test(name)
  );
}

/** Typed access to fast-xml-parser's output, refusing duplicates and oversized values. */
class Reader {
  constructor(private readonly maxValue: number) {}

  child(node: Node, name: string, parent: string): Node | undefined {
    const v = node[name];
    if (v === undefined) return undefined;
    if (Array.isArray(v)) throw new ManifestMalformedError(`<${parent}> has more than one <${name}>`);
    if (typeof v === 'string') {
      // An element with only text or empty, where children were expected.
      if (v === '') return {};
      throw new ManifestMalformedError(`<${name}> should contain elements, not text`);
    }
    return v as Node;
  }

  requireChild(node: Node, name: string, parent: string): Node {
    const c = this.child(node, name, parent);
    if (!c) throw new ManifestMalformedError(`<${parent}> has no <${name}>`);
    return c;
  }

  list(node: Node, name: string): Node[] {
    const v = node[name];
    if (v === undefined) return [];
    const arr = Array.isArray(v) ? v : [v];
    return arr.map((x) => (typeof x === 'string' ? { '#text': x } : (x as Node)));
  }

  value(node: Node | string, name: string): string {
    let raw: unknown = node;
    if (typeof node === 'object') {
      const keys = Object.keys(node).filter((k) => !k.startsWith('@'));
      if (keys.some((k) => k !== '#text')) throw new ManifestMalformedError(`<${name}> should contain text, not elements`);
      raw = node['#text'] ?? '';
    }
    if (typeof raw !== 'string') throw new ManifestMalformedError(`<${name}> is not text`);
    if (raw.length > this.maxValue) {
      throw new ManifestMalformedError(`<${name}> is ${raw.length} characters long, over the ${this.maxValue} limit`);
    }
    const text = unescapeXmlText(raw);
    if (text === undefined) throw new ManifestMalformedError(`<${name}> uses an undefined entity`);
    return text;
  }

  optText(node: Node, name: string, parent: string): string | undefined {
    const v = node[name];
    if (v === undefined) return undefined;
    if (Array.isArray(v)) throw new ManifestMalformedError(`<${parent}> has more than one <${name}>`);
    return this.value(v as Node | string, name);
  }

  text(node: Node, name: string, parent: string): string {
    const t = this.optText(node, name, parent);
    if (t === undefined) throw new ManifestMalformedError(`<${parent}> has no <${name}>`);
    return t;
  }

  hex(node: Node, name: string, parent: string, length?: number): string {
    const t = this.text(node, name, parent).trim();
    if (!/^[0-9a-fA-F]*$/.test(t) || (length !== undefined && t.length !== length) || t.length % 2 !== 0) {
      throw new ManifestMalformedError(`<${name}> in <${parent}> is not ${length ? `${length}-digit ` : ''}hex`);
    }
    return t.toLowerCase();
  }

  size(node: Node, name: string, parent: string): number {
    const t = this.text(node, name, parent).trim();
    if (!/^\d{1,15}$/.test(t)) throw new ManifestMalformedError(`<${name}> ${JSON.stringify(t.slice(0, 40))} is not a byte count`);
    return Number(t);
  }
}
