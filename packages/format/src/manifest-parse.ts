/*
 * Parse a 2007-10-10 manifest: ours, ec2-ami-tools' (single quotes) and euca2ools' (double quotes, with
 * an encoding declaration and a newline). Hostile input is refused with ManifestMalformedError before it
 * can cost anything: a size cap, valid UTF-8, the strict structural reader of manifest-xml.ts (no
 * comments, PIs, DOCTYPE, CDATA, unknown or repeated elements or attributes, markup in attribute values;
 * at most MAX_PART_COUNT parts), a cap on every value's length, strict checks of numbers, hex, indexes
 * and part file names.
 *
 * The elements read are tied to the text a signature covers: `parseManifestDocument` returns, next to
 * the manifest, the exact text of the <machine_configuration> and <image> elements the values were read
 * from, after checking that the format's own definition of the signed text (a first-match string search,
 * manifest-signed-text.ts) finds exactly those spans. See manifest-signature.ts and README.md.
 */
import { ManifestMalformedError } from '@bundlefarm/errors';
import { MANIFEST_VERSION, MAX_IMAGE_SIZE } from './limits.js';
import type { BlockDeviceMapping, BundleManifest, MachineConfiguration, ManifestImage, ManifestPart } from './manifest.js';
import { MANIFEST_SCHEMA } from './manifest-schema.js';
import { signedContent } from './manifest-signed-text.js';
import { readRestrictedXml, type XmlElement } from './manifest-xml.js';
import { fastXmlParser } from './lazy-modules.js';
import { MAX_PART_COUNT } from './part-naming.js';
import { isPlainFileName } from './safe-file-name.js';
import { unescapeXmlText } from './xml-text.js';

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

export interface ManifestDocument extends ParsedManifest {
  /**
   * The text of the <machine_configuration> element read (empty if there is none) followed by the text
   * of the <image> element read: exactly what the signature must cover.
   */
  signedText: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function parseManifest(input: string | Buffer, options: ManifestParseOptions = {}): ParsedManifest {
  const { manifest, xml } = parseManifestDocument(input, options);
  return { manifest, xml };
}

export function parseManifestDocument(input: string | Buffer, options: ManifestParseOptions = {}): ManifestDocument {
  const maxBytes = options.maxBytes ?? MAX_MANIFEST_SIZE;
  const maxValue = options.maxValueLength ?? 8192;
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) throw new ManifestMalformedError(`it is ${size} bytes, over the ${maxBytes}-byte limit`);
  let xml: string;
  if (typeof input === 'string') xml = input;
  else {
    try {
      xml = utf8.decode(input);
    } catch (err) {
      throw new ManifestMalformedError('it is not UTF-8 text', { cause: err });
    }
  }
  if (xml.trim() === '') throw new ManifestMalformedError('it is empty');
  const root = readRestrictedXml(xml, 'manifest', MANIFEST_SCHEMA);
  // A second, independent XML parser must agree that the text is well-formed.
  const valid = fastXmlParser().XMLValidator.validate(xml);
  if (valid !== true) throw new ManifestMalformedError(`not well-formed XML (line ${valid.err.line}: ${valid.err.msg})`);

  const r = new Reader(maxValue);
  const mcNode = r.child(root, 'machine_configuration');
  const imageNode = r.requireChild(root, 'image');
  const signedText = signedSpan(xml, mcNode, 'machine_configuration') + signedSpan(xml, imageNode, 'image');
  if (signedContent(xml) !== signedText) {
    // Unreachable after the checks above; kept so that the property holds whatever changes around it.
    throw new ManifestMalformedError('the text a signature covers is not the text of the elements read');
  }

  const version = r.text(root, 'version');
  if (version !== MANIFEST_VERSION) {
    throw new ManifestMalformedError(`manifest version ${JSON.stringify(version)} is not supported (only ${MANIFEST_VERSION})`);
  }
  const bundlerNode = r.requireChild(root, 'bundler');
  const bundler = { name: r.text(bundlerNode, 'name'), version: r.text(bundlerNode, 'version'), release: r.text(bundlerNode, 'release') };
  const machineConfiguration = mcNode ? readMachineConfiguration(r, mcNode) : undefined;
  const image = readImage(r, imageNode);
  const signature = r.optText(root, 'signature');
  if (signature !== undefined && signature !== 'UNSIGNED' && !/^[0-9a-fA-F]*$/.test(signature)) {
    throw new ManifestMalformedError('<signature> is not hex');
  }
  const manifest: BundleManifest = { version, bundler, image };
  if (machineConfiguration) manifest.machineConfiguration = machineConfiguration;
  if (signature !== undefined) manifest.signature = signature;
  return { manifest, xml, signedText };
}

/**
 * The text of a signed element, which must be spelled exactly `<tag>…</tag>` and occur once in the whole
 * text: the format finds the signed text by searching for those very tags (§4).
 */
function signedSpan(xml: string, el: XmlElement | undefined, tag: string): string {
  const open = `<${tag}>`;
  const close = `</${tag}>`;
  const starts = xml.match(new RegExp(`<${tag}[\\s/>]`, 'g'))?.length ?? 0;
  const ends = xml.match(new RegExp(`</${tag}[\\s>]`, 'g'))?.length ?? 0;
  if (!el) {
    if (starts + ends > 0) throw new ManifestMalformedError(`<${tag}> appears in the text but not as a child of <manifest>`);
    return '';
  }
  if (!xml.startsWith(open, el.start) || !xml.startsWith(close, el.end - close.length)) {
    throw new ManifestMalformedError(`<${tag}> must be written exactly ${open}…${close} (no attributes, spaces or empty-element form): the signed text is found by those tags`);
  }
  if (starts !== 1 || ends !== 1) throw new ManifestMalformedError(`the tags of <${tag}> appear ${starts + ends} times in the text; exactly one start and one end tag are allowed`);
  return xml.slice(el.start, el.end);
}

function readMachineConfiguration(r: Reader, node: XmlElement): MachineConfiguration {
  const mc: MachineConfiguration = { architecture: r.text(node, 'architecture') };
  const bdm = r.child(node, 'block_device_mapping');
  if (bdm) {
    mc.blockDeviceMapping = r.list(bdm, 'mapping').map((m): BlockDeviceMapping => ({ virtual: r.text(m, 'virtual'), device: r.text(m, 'device') }));
  }
  const kernelId = r.optText(node, 'kernel_id');
  if (kernelId !== undefined) mc.kernelId = kernelId;
  const ramdiskId = r.optText(node, 'ramdisk_id');
  if (ramdiskId !== undefined) mc.ramdiskId = ramdiskId;
  const pc = r.child(node, 'product_codes');
  if (pc) mc.productCodes = r.list(pc, 'product_code').map((c) => r.value(c));
  return mc;
}

function readImage(r: Reader, node: XmlElement): ManifestImage {
  const name = r.text(node, 'name');
  if (!isPlainFileName(name)) throw new ManifestMalformedError(`image name ${JSON.stringify(name)} is not a plain file name`);
  const image: ManifestImage = {
    name,
    user: r.text(node, 'user'),
    type: r.text(node, 'type'),
    digest: r.hex(node, 'digest', 40),
    size: r.size(node, 'size'),
    bundledSize: r.size(node, 'bundled_size'),
    ec2EncryptedKey: r.hex(node, 'ec2_encrypted_key'),
    userEncryptedKey: r.hex(node, 'user_encrypted_key'),
    ec2EncryptedIv: r.hex(node, 'ec2_encrypted_iv'),
    userEncryptedIv: r.hex(node, 'user_encrypted_iv'),
    parts: [],
  };
  if (image.size > MAX_IMAGE_SIZE) throw new ManifestMalformedError(`image size ${image.size} is over the 10 GiB limit`);
  const kernelName = r.optText(node, 'kernel_name');
  if (kernelName !== undefined) image.kernelName = kernelName;
  const ancestry = r.child(node, 'ancestry');
  if (ancestry) image.ancestry = r.list(ancestry, 'ancestor_ami_id').map((a) => r.value(a));

  const partsNode = r.requireChild(node, 'parts');
  const countAttr = partsNode.attributes.get('count');
  if (countAttr === undefined || !/^\d{1,6}$/.test(countAttr)) throw new ManifestMalformedError('<parts> has no valid count attribute');
  const count = Number(countAttr);
  if (count > MAX_PART_COUNT) {
    throw new ManifestMalformedError(`<parts count='${count}'> is more than the ${MAX_PART_COUNT} parts an image within the 10 GiB limit can need`);
  }
  const list = r.list(partsNode, 'part');
  if (count !== list.length) throw new ManifestMalformedError(`<parts count='${count}'> but ${list.length} <part> elements`);
  if (count === 0) throw new ManifestMalformedError('the manifest lists no parts');
  const parts: ManifestPart[] = new Array<ManifestPart>(count);
  for (const p of list) {
    const idx = p.attributes.get('index');
    if (idx === undefined || !/^\d{1,6}$/.test(idx)) throw new ManifestMalformedError('a <part> has no valid index attribute');
    const index = Number(idx);
    if (index >= count) throw new ManifestMalformedError(`part index ${index} is out of range for ${count} parts`);
    if (parts[index]) throw new ManifestMalformedError(`part index ${index} appears twice`);
    const filename = r.text(p, 'filename');
    if (!isPlainFileName(filename)) {
      throw new ManifestMalformedError(`part ${index} file name ${JSON.stringify(filename)} is not a plain file name`, { details: { index } });
    }
    parts[index] = { index, filename, digest: r.hex(p, 'digest', 40) };
  }
  const names = new Set(parts.map((p) => p.filename));
  if (names.size !== parts.length) throw new ManifestMalformedError('two parts have the same file name');
  image.parts = parts;
  return image;
}

/**
 * Typed access to the element tree. The schema already refused unknown and repeated elements, element
 * children of leaves and text in containers; this decodes and checks values.
 */
class Reader {
  constructor(private readonly maxValue: number) {}

  child(node: XmlElement, name: string): XmlElement | undefined {
    return node.children.find((c) => c.name === name);
  }

  requireChild(node: XmlElement, name: string): XmlElement {
    const c = this.child(node, name);
    if (!c) throw new ManifestMalformedError(`<${node.name}> has no <${name}>`);
    return c;
  }

  list(node: XmlElement, name: string): XmlElement[] {
    return node.children.filter((c) => c.name === name);
  }

  value(el: XmlElement): string {
    if (el.text.length > this.maxValue) {
      throw new ManifestMalformedError(`<${el.name}> is ${el.text.length} characters long, over the ${this.maxValue} limit`);
    }
    const text = unescapeXmlText(el.text);
    if (text === undefined) throw new ManifestMalformedError(`<${el.name}> uses an undefined entity`);
    return text;
  }

  optText(node: XmlElement, name: string): string | undefined {
    const c = this.child(node, name);
    return c ? this.value(c) : undefined;
  }

  text(node: XmlElement, name: string): string {
    const t = this.optText(node, name);
    if (t === undefined) throw new ManifestMalformedError(`<${node.name}> has no <${name}>`);
    return t;
  }

  hex(node: XmlElement, name: string, length?: number): string {
    const t = this.text(node, name).trim();
    if (!/^[0-9a-fA-F]*$/.test(t) || (length !== undefined && t.length !== length) || t.length % 2 !== 0) {
      throw new ManifestMalformedError(`<${name}> in <${node.name}> is not ${length ? `${length}-digit ` : ''}hex`);
    }
    return t.toLowerCase();
  }

  size(node: XmlElement, name: string): number {
    const t = this.text(node, name).trim();
    if (!/^\d{1,15}$/.test(t)) throw new ManifestMalformedError(`<${name}> ${JSON.stringify(t.slice(0, 40))} is not a byte count`);
    return Number(t);
  }
}
