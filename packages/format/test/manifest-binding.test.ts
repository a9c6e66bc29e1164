import assert from 'node:assert/strict';
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ManifestMalformedError, SignatureInvalidError } from '@bundlefarm/errors';
import {
  generateSelfSignedIdentity,
  parseCertificate,
  parseManifest,
  serializeImage,
  serializeMachineConfiguration,
  signedContent,
  verifyManifestText,
} from '@bundlefarm/format';
import { FIXTURES, SMALL } from '@bundlefarm/testkit/fixtures.js';

/**
 * The bytes whose signature is checked are the bytes of the <machine_configuration> and <image> the
 * parser returns (security review finding 1): everything that could make a string search and an XML
 * reader disagree is refused, and whatever verifies was read from exactly the signed text.
 */
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const small = fixture('small/small.img.manifest.xml');
const cert = parseCertificate(readFileSync(join(SMALL, 'user-cert.pem')), 'user-cert.pem');

const mcStart = small.indexOf('<machine_configuration>');
const mcEnd = small.indexOf('</machine_configuration>') + '</machine_configuration>'.length;
const imgEnd = small.indexOf('</image>') + '</image>'.length;
const victimSections = small.slice(mcStart, imgEnd);
const attackerSections = victimSections
  .replace('<name>small.img</name>', '<name>evil.img</name>')
  .replace(/(<digest algorithm='SHA1'>)[0-9a-f]{40}/, `$1${'e'.repeat(40)}`)
  .replace('<architecture>x86_64', '<architecture>i386');

/** Parse and check the signature as `verify -c` does; returns the manifest that verified. */
function verified(xml: string): ReturnType<typeof parseManifest> {
  const parsed = parseManifest(xml);
  verifyManifestText(xml, parsed.manifest.signature, cert.publicKey, cert.source);
  return parsed;
}

function refused(xml: string, message: RegExp, what = message.source): void {
  assert.throws(
    () => parseManifest(xml),
    (e: unknown) => e instanceof ManifestMalformedError && message.test(e.message) && !e.message.includes('\n'),
    what,
  );
  assert.throws(() => verifyManifestText(xml, parseSignature(small), cert.publicKey, cert.source), ManifestMalformedError, what);
}

function parseSignature(xml: string): string {
  return /<signature>([0-9a-f]+)<\/signature>/.exec(xml)![1]!;
}

describe('the four wrappings of the review, from a real ec2-ami-tools manifest', () => {
  const head = small.slice(0, mcStart);
  const tail = small.slice(imgEnd);
  const cases: Array<[string, string, RegExp]> = [
    ['comment', `<!--${victimSections}-->`, /comment/],
    ['unknown element', `<x>${victimSections}</x>`, /unknown element <x>/],
    ['attribute value', `<x a="${victimSections}"/>`, /unknown element <x>/],
    ['processing instruction', `<?x ${victimSections}?>`, /processing instruction/],
  ];
  for (const [what, wrapped, message] of cases) {
    it(`signed sections inside ${what}, then the attacker's own: refused`, () => {
      const forged = head + wrapped + attackerSections + tail;
      assert.equal(signedContent(forged), victimSections, 'the string search finds the victim sections');
      refused(forged, message);
    });
  }

  it('the same forgery without the wrapping verifies nothing either (the control)', () => {
    assert.throws(() => verified(head + attackerSections + tail), SignatureInvalidError);
    assert.equal(verified(small).manifest.image.name, 'small.img');
  });
});

describe('structural refusals: one clear line naming what is wrong', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a comment at the top level', small.replace('<version>', '<!-- hi --><version>'), /comment/],
    ['a comment inside <image>', small.replace('<user>', '<!--x--><user>'), /comment/],
    ['a comment after the root', `${small}<!-- x -->`, /comment/],
    ['a PI after the declaration', small.replace('<manifest>', '<?x y?><manifest>'), /processing instruction/],
    ['a PI inside a leaf', small.replace('<name>small.img', '<name><?x y?>small.img'), /processing instruction/],
    ['a second XML declaration', small.replace('<manifest>', "<?xml version='1.0'?><manifest>"), /processing instruction/],
    ['a declaration not at the start', ` ${small}`, /processing instruction/],
    ['a DOCTYPE', small.replace('<manifest>', '<!DOCTYPE manifest><manifest>'), /DOCTYPE/],
    ['CDATA in a leaf', small.replace('<name>small.img</name>', '<name><![CDATA[small.img]]></name>'), /CDATA/],
    ['an unknown element under <manifest>', small.replace('<version>', '<x/><version>'), /unknown element <x> in <manifest>/],
    ['an unknown element under <bundler>', small.replace('<release>', '<x>1</x><release>'), /unknown element <x> in <bundler>/],
    ['an unknown element under <machine_configuration>', small.replace('<kernel_id>', '<x/><kernel_id>'), /unknown element <x> in <machine_configuration>/],
    ['an unknown element under <mapping>', small.replace('<virtual>ami', '<x/><virtual>ami'), /unknown element <x> in <mapping>/],
    ['an unknown element under <image>', small.replace('<user>', '<evil/><user>'), /unknown element <evil> in <image>/],
    ['an unknown element under <parts>', small.replace("<part index='0'>", "<x/><part index='0'>"), /unknown element <x> in <parts>/],
    ['an unknown element under <part>', small.replace('<filename>', '<x/><filename>'), /unknown element <x> in <part>/],
    ['an element inside a leaf', small.replace('<name>small.img', '<name><b/>small.img'), /<name> holds text only/],
    ['<image> inside <machine_configuration>', small.replace('</machine_configuration>', '<image/></machine_configuration>'), /unknown element <image> in <machine_configuration>/],
    ['two <image>', small.replace('<signature>', `${small.slice(small.indexOf('<image>'), imgEnd)}<signature>`), /more than one <image>/],
    ['two <machine_configuration>', small.replace('<image>', `${small.slice(mcStart, mcEnd)}<image>`), /more than one <machine_configuration>/],
    ['two <signature>', small.replace('</manifest>', '<signature>00</signature></manifest>'), /more than one <signature>/],
    ['two <version>', small.replace('<bundler>', '<version>2007-10-10</version><bundler>'), /more than one <version>/],
    ['two <filename> in a part', small.replace('<filename>', '<filename>a</filename><filename>'), /more than one <filename>/],
    ["'<' in an attribute value", small.replace("<parts count='1'>", "<parts count='1<'>"), /markup character '<' in an attribute value/],
    ["'>' in an attribute value", small.replace("<parts count='1'>", "<parts count='>1'>"), /markup character '>' in an attribute value/],
    ["'&' not an entity in an attribute value", small.replace("<digest algorithm='SHA1'>5b", "<digest algorithm='SHA1&x;'>5b"), /'&'/],
    ['a character reference in an attribute value', small.replace("<parts count='1'>", "<parts count='&#49;'>"), /'&'/],
    ['an unknown attribute', small.replace('<image>', "<image id='1'>"), /attribute "id" is not allowed on <image>/],
    ['an attribute on <manifest>', small.replace('<manifest>', "<manifest xmlns='urn:x'>"), /attribute "xmlns" is not allowed on <manifest>/],
    ['a repeated attribute', small.replace("<parts count='1'>", "<parts count='1' count='1'>"), /attribute "count" appears twice/],
    ['text between elements', small.replace('<version>', 'junk<version>'), /text in <manifest>/],
    ['text in <image>', small.replace('<user>', 'x<user>'), /text in <image>/],
    ['text before the root', small.replace('<manifest>', 'x<manifest>'), /text outside <manifest>/],
    ['text after the root', `${small}x`, /text outside <manifest>/],
    ['a second root', `${small}<manifest/>`, /after the <manifest> element/],
    ['<image > spelled with a space', small.replace('<image>', '<image >'), /<image>.*exactly/],
    ['</image > spelled with a space', small.replace('</image>', '</image >'), /<image>.*exactly/],
    ['an empty <machine_configuration/>', small.slice(0, mcStart) + '<machine_configuration/>' + small.slice(mcEnd), /machine_configuration/],
    ['a control character', small.replace('<name>small.img', '<name>small\u0001.img'), /control character U\+0001/],
    ['an unclosed element', small.replace('</manifest>', ''), /not closed/],
    ['a mismatched end tag', small.replace('</bundler>', '</bundlerx>'), /<\/bundlerx>/],
    ['a non-XML declaration', small.replace("<?xml version='1.0'?>", "<?xml version='9'?>"), /XML declaration/],
  ];
  for (const [what, xml, message] of cases) {
    it(`refuses ${what}`, () => {
      assert.notEqual(xml, small, 'the case changed the text');
      refused(xml, message, what);
    });
  }

  it('refuses bytes that are not UTF-8', () => {
    const bytes = Buffer.from(small.replace('small.img</name>', 'small.\u00ffimg</name>'), 'latin1');
    assert.throws(() => parseManifest(bytes), (e: unknown) => e instanceof ManifestMalformedError && /UTF-8/.test(e.message));
  });

  it('bounds the part count by what a 10 GiB image can need, before reading the parts', () => {
    const part = (i: number): string => `<part index='${i}'><filename>p.${i}</filename><digest algorithm='SHA1'>${'a'.repeat(40)}</digest></part>`;
    const many = (n: number): string =>
      small.replace(/<parts count='1'>.*<\/parts>/, `<parts count='${n}'>${Array.from({ length: n }, (_, i) => part(i)).join('')}</parts>`);
    // euca2ools lists a trailing empty part when the ciphertext fills its last part: 1025 + 1
    assert.equal(parseManifest(many(1026)).manifest.image.parts.length, 1026);
    const t = performance.now();
    assert.throws(() => parseManifest(many(30_000)), (e: unknown) => e instanceof ManifestMalformedError && /more than 1026 <part>/.test(e.message));
    assert.ok(performance.now() - t < 2000, 'refused without reading 30 000 parts');
    assert.throws(
      () => parseManifest(small.replace("<parts count='1'>", "<parts count='30000'>")),
      (e: unknown) => e instanceof ManifestMalformedError && /count='30000'.*1026/.test(e.message),
    );
  });
});

describe('every real manifest still reads and verifies', () => {
  it('ec2-ami-tools 1.5.3 fixtures and the euca2ools sample parse', () => {
    for (const f of ['small/small.img.manifest.xml', 'ec2-ami-tools-full.manifest.xml', 'euca2ools-sample.manifest.xml']) {
      assert.ok(parseManifest(fixture(f)).manifest.image.parts.length > 0, f);
    }
    assert.equal(verified(small).manifest.image.name, 'small.img');
  });

  const id = generateSelfSignedIdentity({ bits: 1024 });
  const signOwnBytes = (unsigned: string): string => {
    const s = createSign('sha1');
    s.update(signedContent(unsigned));
    return unsigned.replace('</manifest>', `<signature>${s.sign(id.privateKey.key).toString('hex')}</signature></manifest>`);
  };
  const body = small.replace("<?xml version='1.0'?>", '').replace(/<signature>.*<\/signature>/, '');

  it("euca2ools' form: encoding declaration and newline, double quotes, signed over its own bytes", () => {
    const euca = signOwnBytes("<?xml version='1.0' encoding='ASCII'?>\n" + body.replace(/(\w+)='([^']*)'/g, '$1="$2"'));
    const parsed = parseManifest(euca);
    verifyManifestText(euca, parsed.manifest.signature, id.certificate.publicKey, 'cert');
    assert.equal(parsed.manifest.image.digest, '5b43c2007e44bcd4c0d4945340eae0681e0e6af7');
  });

  it("Go aws_bundle's form (REXML's declaration, double-quoted attributes), other declarations, whitespace between elements", () => {
    const go = signOwnBytes("<?xml version='1.0'?>" + body.replace(/(\w+)='([^']*)'/g, '$1="$2"'));
    verifyManifestText(go, parseManifest(go).manifest.signature, id.certificate.publicKey, 'cert');
    const pretty = signOwnBytes('<?xml version="1.0" encoding="UTF-8"?>\n' + body.replace('<version>', '\n  <version>').replace('</manifest>', '\n</manifest>\n'));
    verifyManifestText(pretty, parseManifest(pretty).manifest.signature, id.certificate.publicKey, 'cert');
    // whitespace inside the signed sections is signed text like any other
    const indented = signOwnBytes("<?xml version='1.0'?>" + body.replace('<user>', '\n    <user>').replace('</parts>', '\n</parts>'));
    verifyManifestText(indented, parseManifest(indented).manifest.signature, id.certificate.publicKey, 'cert');
    // and a manifest without <machine_configuration> signs the empty string for it (§4)
    const noMc = signOwnBytes("<?xml version='1.0'?>" + body.slice(0, body.indexOf('<machine_configuration>')) + body.slice(body.indexOf('<image>')));
    assert.equal(parseManifest(noMc).manifest.machineConfiguration, undefined);
    verifyManifestText(noMc, parseManifest(noMc).manifest.signature, id.certificate.publicKey, 'cert');
  });
});

describe('property: whatever is inserted around or between the signed sections (comments, PIs, elements, attributes)', () => {
  const wrappers: Array<(s: string) => string> = [
    (s) => `<!--${s}-->`,
    (s) => `<?x ${s}?>`,
    (s) => `<x>${s}</x>`,
    (s) => `<x a="${s}"/>`,
    (s) => `<x a='${s}'>y</x>`,
    (s) => `<![CDATA[${s}]]>`,
    (s) => `<ancestry>${s}</ancestry>`,
    (s) => `<signature>${s}</signature>`,
    (s) => s,
    () => '\n  ',
  ];
  const payloads = [
    victimSections,
    attackerSections,
    small.slice(mcStart, mcEnd),
    small.slice(mcEnd, imgEnd),
    '<image>',
    '</image>',
    '<machine_configuration>',
    '</machine_configuration>',
    '',
    'x',
  ];
  /** Places where elements start or end, with the places between <manifest>'s children first. */
  const boundaries = (xml: string): { top: number[]; any: number[] } => {
    const top = ['<version>', '<bundler>', '<machine_configuration>', '<image>', '<signature>', '</manifest>']
      .map((t) => xml.indexOf(t))
      .filter((i) => i >= 0);
    top.push(xml.indexOf('</image>') + '</image>'.length);
    const any: number[] = [];
    for (let i = 0; i < xml.length; i++) if (xml[i] === '<') any.push(i);
    return { top, any };
  };
  /** Ends of start tags (just before their `>`), where an attribute can be slipped in. */
  const tagEnds = (xml: string): number[] => {
    const out: number[] = [];
    for (let i = 0; i < xml.length; i++) if (xml[i] === '>' && xml[i - 1] !== '/' && xml[xml.lastIndexOf('<', i) + 1] !== '/') out.push(i);
    return out;
  };
  const attributeNames = ['a', 'count', 'index', 'algorithm'];
  const insertion = fc.record({
    where: fc.constantFrom('top', 'any', 'in-tag'),
    at: fc.nat(),
    wrap: fc.nat({ max: wrappers.length - 1 }),
    attribute: fc.nat({ max: attributeNames.length - 1 }),
    quote: fc.constantFrom("'", '"'),
    payload: fc.nat({ max: payloads.length - 1 }),
  });

  it('is refused, or verifies only when the parsed sections are the signed ones', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(insertion, { minLength: 1, maxLength: 3 }), (swap, inserts) => {
        let xml = swap ? small.replace(victimSections, attackerSections) : small;
        for (const ins of inserts) {
          const payload = payloads[ins.payload]!;
          if (ins.where === 'in-tag') {
            const list = tagEnds(xml);
            const at = list[ins.at % list.length]!;
            xml = `${xml.slice(0, at)} ${attributeNames[ins.attribute]!}=${ins.quote}${payload}${ins.quote}${xml.slice(at)}`;
          } else {
            const b = boundaries(xml);
            const list = ins.where === 'top' ? b.top : b.any;
            const at = list[ins.at % list.length]!;
            xml = xml.slice(0, at) + wrappers[ins.wrap]!(payload) + xml.slice(at);
          }
        }
        let parsed;
        try {
          parsed = verified(xml);
        } catch (err) {
          assert.ok(err instanceof ManifestMalformedError || err instanceof SignatureInvalidError, String(err));
          assert.ok(!(err as Error).message.includes('\n'), 'one line');
          return;
        }
        const { manifest } = parsed;
        assert.equal(serializeMachineConfiguration(manifest.machineConfiguration!) + serializeImage(manifest.image), victimSections, xml);
      }),
      { numRuns: Number(process.env.BUNDLEFARM_FUZZ_RUNS ?? 400), seed: 20260801 },
    );
  });
});
