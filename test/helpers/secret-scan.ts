import { Redis } from 'ioredis';

/**
 * Scans for secrets that must never leave the process that holds them (AES keys and IVs, private keys,
 * credentials, tokens): the forms a secret may take in text, every key and value of a Redis database
 * read byte for byte, and a search that names where each hit is. Shared by the worker tests
 * (packages/queue/test) and the service-wide scan (test/faults/secrets.test.ts).
 *
 * Everything is compared as latin1 text: a byte-for-byte view, so raw secret bytes are found in binary
 * Redis values as well as hex/base64 forms in JSON and log lines.
 */

/** Secret label → the forms to look for. */
export type Needles = Record<string, string[]>;

/** Something to search, and where it came from (named in failures). */
export interface Haystack {
  where: string;
  content: string | Buffer;
}

/**
 * Forms a secret may take in text. Bytes (an AES key or IV): hex in both cases, base64 and base64url,
 * the raw bytes, and — as bundle manifests carry keys as 32-character hex strings — the base64 of that
 * hex string. Text (a token, a password): as given, and its base64 and hex.
 */
export function secretForms(secret: Buffer | string): string[] {
  if (typeof secret === 'string') {
    const b = Buffer.from(secret, 'utf8');
    return [secret, b.toString('base64'), b.toString('base64url'), b.toString('hex')];
  }
  const hex = secret.toString('hex');
  return [hex, hex.toUpperCase(), secret.toString('base64'), secret.toString('base64url'), secret.toString('latin1'), Buffer.from(hex).toString('base64')];
}

/**
 * The base64 lines of a PEM (each long enough not to occur by chance), its whole body (with and without
 * line breaks) and a distinctive stretch of the body that crosses line breaks — found even when the key
 * was re-wrapped or had its newlines escaped or dropped.
 */
export function pemForms(pem: string): string[] {
  const lines = pem.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'));
  const body = lines.join('');
  const middle = Math.floor(body.length / 2);
  return [body, lines.join('\n'), lines.join('\\n'), body.slice(middle - 20, middle + 20), ...lines];
}

/** Needles found in `haystack`, by label (empty when none). */
export function findSecrets(haystack: string, needles: Needles): string[] {
  return locateSecrets([{ where: '', content: haystack }], needles).map((hit) => hit.replace(/ in $/, ''));
}

/** Every needle found in any haystack, as `label (form…) in where` (empty when none). */
export function locateSecrets(haystacks: Iterable<Haystack>, needles: Needles): string[] {
  const hits: string[] = [];
  const forms = Object.entries(needles).flatMap(([label, fs]) => fs.filter((f) => f.length >= 8).map((f) => ({ label, f })));
  for (const h of haystacks) {
    const text = typeof h.content === 'string' ? h.content : h.content.toString('latin1');
    for (const { label, f } of forms) {
      if (text.includes(f)) hits.push(`${label} (${printable(f.slice(0, 12))}…) in ${h.where}`);
    }
  }
  return hits;
}

function printable(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/**
 * Every key of a Redis database, every type (strings, hashes, lists, sets, sorted sets, streams),
 * read as bytes: one haystack per key name and per value, field or stream entry, named by key, type
 * and field.
 */
export async function redisHaystacks(url: string): Promise<Haystack[]> {
  const redis = new Redis(url);
  try {
    const out: Haystack[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scanBuffer(cursor, 'COUNT', 500);
      cursor = next.toString();
      for (const keyBuf of keys) {
        const key = keyBuf.toString('latin1');
        const type = await redis.type(keyBuf);
        const at = `redis ${type} ${key}`;
        out.push({ where: `redis key name ${key}`, content: keyBuf });
        switch (type) {
          case 'string': {
            const v = await redis.getBuffer(keyBuf);
            if (v) out.push({ where: at, content: v });
            break;
          }
          case 'hash': {
            const fields = await redis.hgetallBuffer(keyBuf);
            for (const [field, v] of Object.entries(fields)) out.push({ where: `${at} field ${field}`, content: Buffer.concat([Buffer.from(field, 'latin1'), Buffer.from(' '), v]) });
            break;
          }
          case 'list':
            (await redis.lrangeBuffer(keyBuf, 0, -1)).forEach((v, i) => out.push({ where: `${at} [${i}]`, content: v }));
            break;
          case 'set':
            for (const v of await redis.smembersBuffer(keyBuf)) out.push({ where: `${at} member`, content: v });
            break;
          case 'zset':
            for (const v of await redis.zrangeBuffer(keyBuf, '0', '-1')) out.push({ where: `${at} member`, content: v });
            break;
          case 'stream':
            for (const [id, fields] of await redis.xrangeBuffer(keyBuf, '-', '+')) {
              out.push({ where: `${at} entry ${id.toString()}`, content: Buffer.concat(fields.flatMap((f) => [f, Buffer.from(' ')])) });
            }
            break;
          default:
            out.push({ where: at, content: `(a ${type} is not read)` });
        }
      }
    } while (cursor !== '0');
    return out;
  } finally {
    redis.disconnect();
  }
}

/** Every key of a Redis database with its type and value, as one text (for scans and `includes`). */
export async function dumpRedis(url: string): Promise<string> {
  return (await redisHaystacks(url)).map((h) => `${h.where} ${typeof h.content === 'string' ? h.content : h.content.toString('latin1')}`).join('\n');
}
