import type { BundleManifest, MachineConfiguration, ManifestImage } from './manifest.js';
import { escapeXmlText } from './xml-text.js';

/**
 * Serialize a manifest byte for byte as ec2-ami-tools 1.5.3 writes it with REXML `Document#to_s`:
 * `<?xml version='1.0'?>`, the whole document on one line with no whitespace between elements,
 * single-quoted attributes, absent optional elements omitted, no trailing newline. Only a manifest in
 * this form authenticates inside Amazon's own tools (they re-serialize before checking the signature).
 */
export const XML_DECLARATION = "<?xml version='1.0'?>";

function el(name: string, text: string | number, attrs?: Record<string, string | number>): string {
  const a = attrs ? Object.entries(attrs).map(([k, v]) => ` ${k}='${escapeXmlText(String(v))}'`).join('') : '';
  return `<${name}${a}>${escapeXmlText(String(text))}</${name}>`;
}

function opt(name: string, text: string | undefined): string {
  return text === undefined ? '' : el(name, text);
}

export function serializeMachineConfiguration(mc: MachineConfiguration): string {
  let s = '<machine_configuration>' + el('architecture', mc.architecture);
  if (mc.blockDeviceMapping && mc.blockDeviceMapping.length > 0) {
    const sorted = [...mc.blockDeviceMapping].sort((a, b) => (a.virtual < b.virtual ? -1 : a.virtual > b.virtual ? 1 : 0));
    s += '<block_device_mapping>';
    for (const m of sorted) s += '<mapping>' + el('virtual', m.virtual) + el('device', m.device) + '</mapping>';
    s += '</block_device_mapping>';
  }
  s += opt('kernel_id', mc.kernelId) + opt('ramdisk_id', mc.ramdiskId);
  if (mc.productCodes && mc.productCodes.length > 0) {
    s += '<product_codes>' + mc.productCodes.map((c) => el('product_code', c)).join('') + '</product_codes>';
  }
  return s + '</machine_configuration>';
}

export function serializeImage(img: ManifestImage): string {
  let s = '<image>' + el('name', img.name) + el('user', img.user) + el('type', img.type) + opt('kernel_name', img.kernelName);
  if (img.ancestry && img.ancestry.length > 0) {
    s += '<ancestry>' + img.ancestry.map((a) => el('ancestor_ami_id', a)).join('') + '</ancestry>';
  }
  s +=
    el('digest', img.digest, { algorithm: 'SHA1' }) +
    el('size', img.size) +
    el('bundled_size', img.bundledSize) +
    el('ec2_encrypted_key', img.ec2EncryptedKey, { algorithm: 'AES-128-CBC' }) +
    el('user_encrypted_key', img.userEncryptedKey, { algorithm: 'AES-128-CBC' }) +
    el('ec2_encrypted_iv', img.ec2EncryptedIv) +
    el('user_encrypted_iv', img.userEncryptedIv);
  s += `<parts count='${img.parts.length}'>`;
  for (const p of [...img.parts].sort((a, b) => a.index - b.index)) {
    s += `<part index='${p.index}'>` + el('filename', p.filename) + el('digest', p.digest, { algorithm: 'SHA1' }) + '</part>';
  }
  return s + '</parts></image>';
}

/** The manifest without `<signature>` (what gets signed) or with it when `manifest.signature` is set. */
export function serializeManifest(manifest: BundleManifest): string {
  const b = manifest.bundler;
  return (
    XML_DECLARATION +
    '<manifest>' +
    el('version', manifest.version) +
    '<bundler>' +
    el('name', b.name) +
    el('version', b.version) +
    el('release', b.release) +
    '</bundler>' +
    (manifest.machineConfiguration ? serializeMachineConfiguration(manifest.machineConfiguration) : '') +
    serializeImage(manifest.image) +
    opt('signature', manifest.signature) +
    '</manifest>'
  );
}
