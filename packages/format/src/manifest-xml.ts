/*
 * A strict reader for the small XML dialect of bundle manifests, keeping the exact offsets of every
 * element so that the text a signature covers can be tied to the elements that are read (see
 * manifest-signature.ts and the package README).
 *
 * One linear pass over the whole text, against a schema of the known elements. It accepts what every
 * real bundler writes — REXML's one-line form with single quotes, lxml's (euca2ools) and Go's
 * double-quoted forms with an encoding declaration and newlines — and refuses, with ManifestMalformedError
 * naming what and where:
 * - comments, processing instructions (the XML declaration is allowed once, at offset 0), DOCTYPE and
 *   entity declarations, CDATA sections: nothing in the text is invisible to the reader;
 * - elements not in the schema, or more of one than the schema allows (one, for all but lists), at any
 *   level; element children of a leaf; text other than whitespace outside leaves;
 * - attributes not in the schema, repeated attributes, and `<`, `>` or an `&` that is not one of the five
 *   predefined entities inside attribute values;
 * - characters XML does not allow (C0 controls other than tab/LF/CR, U+FFFE/U+FFFF, lone surrogates).
 * So in an accepted text every `<` starts a tag of an element of the returned tree, and each element of
 * the tree is the only one of its name at its place.
 */
import { ManifestMalformedError } from '@bundlefarm/errors';
import { unescapeXmlText } from './xml-text.js';

export interface ChildRule {
  readonly rule: ElementRule;
  /** Most occurrences under one parent. */
  readonly max: number;
  /** Why `max` is what it is, for the refusal message. */
  readonly why?: string;
}

export interface ElementRule {
  /** Holds text only (no elements); otherwise elements only, with whitespace between them. */
  readonly leaf?: boolean;
  readonly children?: Readonly<Record<string, ChildRule>>;
  /** Attribute names allowed on the element (none by default). */
  readonly attributes?: readonly string[];
}

export interface XmlElement {
  readonly name: string;
  /** Attribute values with the five predefined entities decoded. */
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: XmlElement[];
  /** A leaf's raw text (entity references not decoded yet); '' for containers. */
  text: string;
  /** Offset of the `<` of the start tag. */
  readonly start: number;
  /** Offset just past the `>` of the end tag (or of `/>`). */
  end: number;
}

interface Open {
  el: XmlElement;
  rule: ElementRule;
  counts: Map<string, number>;
}

const NAME = /[A-Za-z_:][A-Za-z0-9_.:-]*/y;
const END_TAG = /<\/([A-Za-z_:][A-Za-z0-9_.:-]*)[ \t\r\n]*>/y;
const DECLARATION =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(['"])1\.0\1(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(['"])([A-Za-z][A-Za-z0-9._-]*)\2)?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(['"])(?:yes|no)\4)?[ \t\r\n]*\?>/;
const ENCODINGS = new Set(['utf-8', 'utf8', 'ascii', 'us-ascii']);
// eslint-disable-next-line no-control-regex -- XML 1.0 forbids exactly these control characters
const NOT_XML_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const BAD_AMPERSAND = /&(?!(?:amp|lt|gt|quot|apos);)/;
const NOT_ALLOWED = 'comments, processing instructions, DOCTYPE and CDATA are not allowed in a manifest';

function malformed(reason: string, offset?: number): ManifestMalformedError {
  return new ManifestMalformedError(offset === undefined ? reason : `${reason} (offset ${offset})`, offset === undefined ? {} : { details: { offset } });
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!isSpace(text.charCodeAt(i))) return false;
  return true;
}

/** Parse `xml` against `rootRule`; the root element must be `rootName`. */
export function readRestrictedXml(xml: string, rootName: string, rootRule: ElementRule): XmlElement {
  const bad = NOT_XML_CHAR.exec(xml);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw malformed(`a control character U+${code}, which XML does not allow`, bad.index);
  }
  let pos = declarationLength(xml);
  const stack: Open[] = [];
  let root: XmlElement | undefined;

  while (pos < xml.length) {
    const lt = xml.indexOf('<', pos);
    const textEnd = lt < 0 ? xml.length : lt;
    if (textEnd > pos) {
      const text = xml.slice(pos, textEnd);
      const top = stack[stack.length - 1];
      if (!top) {
        if (!isBlank(text)) throw malformed(`text outside <${rootName}>`, pos);
      } else if (top.rule.leaf) {
        top.el.text = text;
      } else if (!isBlank(text)) {
        throw malformed(`text in <${top.el.name}>, which holds elements only`, pos);
      }
      pos = textEnd;
      continue;
    }
    const next = xml[pos + 1];
    if (next === '!') throw malformed(`${markupDeclaration(xml, pos)}: ${NOT_ALLOWED}`, pos);
    if (next === '?') throw malformed(`a processing instruction: ${NOT_ALLOWED}`, pos);
    if (next === '/') {
      END_TAG.lastIndex = pos;
      const m = END_TAG.exec(xml);
      if (!m) throw malformed('not well-formed XML: a broken end tag', pos);
      const top = stack.pop();
      if (!top) throw malformed(`not well-formed XML: </${m[1]!}> closes nothing`, pos);
      if (top.el.name !== m[1]) throw malformed(`not well-formed XML: </${m[1]!}> does not close <${top.el.name}>`, pos);
      pos += m[0].length;
      top.el.end = pos;
      continue;
    }
    NAME.lastIndex = pos + 1;
    const nm = NAME.exec(xml);
    if (!nm) throw malformed("not well-formed XML: '<' not followed by a tag name", pos);
    const name = nm[0];
    const parent = stack[stack.length - 1];
    let rule: ElementRule;
    if (!parent) {
      if (root) throw malformed(`an element <${name}> after the <${rootName}> element`, pos);
      if (name !== rootName) throw malformed(`the root element is <${name}>, not <${rootName}>`, pos);
      rule = rootRule;
    } else {
      rule = childRule(parent, name, pos);
    }
    const tag = readAttributes(xml, pos + 1 + name.length, name, rule);
    const el: XmlElement = { name, attributes: tag.attributes, children: [], text: '', start: pos, end: -1 };
    if (parent) parent.el.children.push(el);
    else root = el;
    pos = tag.end;
    if (tag.selfClosing) el.end = pos;
    else stack.push({ el, rule, counts: new Map() });
  }
  const open = stack[stack.length - 1];
  if (open) throw malformed(`not well-formed XML: <${open.el.name}> is not closed at the end of the text`);
  if (!root) throw malformed(`no <${rootName}> root element`);
  return root;
}

function childRule(parent: Open, name: string, pos: number): ElementRule {
  const p = parent.el.name;
  if (parent.rule.leaf) throw malformed(`<${p}> holds text only, not elements like <${name}>`, pos);
  const child = parent.rule.children?.[name];
  if (!child) throw malformed(`unknown element <${name}> in <${p}>`, pos);
  const n = (parent.counts.get(name) ?? 0) + 1;
  if (n > child.max) {
    throw malformed(
      child.max === 1 ? `<${p}> has more than one <${name}>` : `<${p}> holds more than ${child.max} <${name}> elements${child.why ? ` (${child.why})` : ''}`,
      pos,
    );
  }
  parent.counts.set(name, n);
  return child.rule;
}

function readAttributes(xml: string, from: number, name: string, rule: ElementRule): { attributes: Map<string, string>; end: number; selfClosing: boolean } {
  const attributes = new Map<string, string>();
  let p = from;
  for (;;) {
    const before = p;
    while (p < xml.length && isSpace(xml.charCodeAt(p))) p++;
    if (p >= xml.length) throw malformed(`not well-formed XML: the <${name}> tag is not closed`, from);
    if (xml[p] === '>') return { attributes, end: p + 1, selfClosing: false };
    if (xml.startsWith('/>', p)) return { attributes, end: p + 2, selfClosing: true };
    NAME.lastIndex = p;
    const an = p > before ? NAME.exec(xml) : null;
    if (!an) throw malformed(`not well-formed XML: unexpected ${JSON.stringify(xml[p])} in the <${name}> tag`, p);
    const attr = an[0];
    p += attr.length;
    while (p < xml.length && isSpace(xml.charCodeAt(p))) p++;
    if (xml[p] !== '=') throw malformed(`not well-formed XML: attribute "${attr}" of <${name}> has no value`, p);
    p++;
    while (p < xml.length && isSpace(xml.charCodeAt(p))) p++;
    const quote = xml[p];
    if (quote !== "'" && quote !== '"') throw malformed(`not well-formed XML: attribute "${attr}" of <${name}> is not quoted`, p);
    const close = xml.indexOf(quote, p + 1);
    if (close < 0) throw malformed(`not well-formed XML: attribute "${attr}" of <${name}> is not closed`, p);
    const raw = xml.slice(p + 1, close);
    for (const c of ['<', '>']) {
      const at = raw.indexOf(c);
      if (at >= 0) throw malformed(`markup character '${c}' in an attribute value of <${name}>`, p + 1 + at);
    }
    const amp = BAD_AMPERSAND.exec(raw);
    if (amp) throw malformed(`'&' that is not one of the five XML entities in an attribute value of <${name}>`, p + 1 + amp.index);
    if (!rule.attributes?.includes(attr)) throw malformed(`attribute "${attr}" is not allowed on <${name}>`, before);
    if (attributes.has(attr)) throw malformed(`attribute "${attr}" appears twice on <${name}>`, before);
    attributes.set(attr, unescapeXmlText(raw)!);
    p = close + 1;
  }
}

/** Length of the leading XML declaration (0 if there is none); an unusual one is refused. */
function declarationLength(xml: string): number {
  if (!/^<\?xml[ \t\r\n?]/.test(xml)) return 0;
  const m = DECLARATION.exec(xml);
  if (!m || (m[3] !== undefined && !ENCODINGS.has(m[3].toLowerCase()))) {
    const end = xml.indexOf('?>');
    const shown = xml.slice(0, end < 0 ? 60 : Math.min(end + 2, 100));
    throw malformed(`the XML declaration ${JSON.stringify(shown)} is not one a manifest uses (version 1.0; encoding UTF-8 or ASCII)`, 0);
  }
  return m[0].length;
}

function markupDeclaration(xml: string, pos: number): string {
  if (xml.startsWith('<!--', pos)) return 'a comment';
  if (xml.startsWith('<![CDATA[', pos)) return 'a CDATA section';
  if (/^<!DOCTYPE/i.test(xml.slice(pos, pos + 9))) return 'a DOCTYPE';
  if (xml.startsWith('<!ENTITY', pos)) return 'an entity declaration';
  return 'a markup declaration';
}
