// The signed text as the 2007-10-10 format defines it (bundle-format.md §4; `manifestv20071010.rb`,
// `xmlutil.rb`): in the serialized manifest, the substring from the first `<machine_configuration>`
// through the first `</machine_configuration>` (empty if there is none), immediately followed by the
// substring from the first `<image>` through the first `</image>`. Plain string search, no
// canonicalisation. Signing uses it on our own serializer's output; the parser uses it to check that
// this definition picks out exactly the elements it read (manifest-parse.ts).
import { ManifestMalformedError } from '@bundlefarm/errors';

export function signedContent(xml: string): string {
  return section(xml, 'machine_configuration', false) + section(xml, 'image', true);
}

function section(xml: string, tag: string, required: boolean): string {
  const open = `<${tag}>`;
  const close = `</${tag}>`;
  const start = xml.indexOf(open);
  if (start < 0) {
    if (required) throw new ManifestMalformedError(`no <${tag}> element`);
    return '';
  }
  const end = xml.indexOf(close, start);
  if (end < 0) throw new ManifestMalformedError(`<${tag}> is not closed`);
  return xml.slice(start, end + close.length);
}
