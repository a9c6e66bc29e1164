// Names read from a bundle (part file names, the image name, the tar member's name) that end up as file
// names on the reader's disk: what is safe to join to a directory, and what is safe to write an image as.

/** A name that is safe to join to a directory or key prefix: one component, no traversal. */
export function isPlainFileName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 255 &&
    name !== '.' &&
    name !== '..' &&
    !/[/\\\0]/.test(name) &&
    // no control characters
    // eslint-disable-next-line no-control-regex -- the control characters are what is refused
    !/[\x00-\x1f\x7f]/.test(name)
  );
}

/** Control, format (U+202E right-to-left override, zero-width …) and line/paragraph separator characters. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/**
 * Why `name` must not be the file an unbundled image is written as, or undefined when it may: one plain
 * path component, no leading dot (`.bashrc`, `.ssh` — hidden, and meaningful to shells and tools), no
 * control or format characters (a newline or U+202E makes a listing lie about the name).
 */
export function imageFileNameProblem(name: string): string | undefined {
  if (!isPlainFileName(name)) return "it is not one plain path component (empty, '.', '..', '/', '\\' or a control character)";
  if (name.startsWith('.')) return 'it starts with "." (a hidden file)';
  const bad = INVISIBLE.exec(name);
  if (bad) return `it contains the control or format character U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return undefined;
}

/** `name` quoted for a one-line message, with control and format characters spelled as \uXXXX. */
export function quoteName(name: string): string {
  const shown = name.length > 120 ? `${name.slice(0, 120)}…` : name;
  return JSON.stringify(shown).replace(new RegExp(INVISIBLE.source, 'gu'), (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}
