/**
 * Text escaping exactly as REXML 3.3.9 writes it (`&amp; &lt; &gt; &quot; &apos;`), and the inverse for
 * the five predefined entities plus numeric character references. Nothing else is ever expanded.
 */
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function escapeXmlText(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decode predefined entities and character references; returns undefined on any other entity. */
export function unescapeXmlText(value: string): string | undefined {
  if (!value.includes('&')) return value;
  let bad = false;
  const out = value.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z]+);|&/g, (whole, ref: string | undefined) => {
    if (ref === undefined) {
      bad = true;
      return whole;
    }
    if (ref.startsWith('#x') || ref.startsWith('#')) {
      const code = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (code > 0x10ffff || code === 0) {
        bad = true;
        return whole;
      }
      return String.fromCodePoint(code);
    }
    const named = NAMED[ref];
    if (named === undefined) bad = true;
    return named ?? whole;
  });
  return bad ? undefined : out;
}
