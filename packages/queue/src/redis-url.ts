/*
 * The one parser of BUNDLEFARM_REDIS_URL (worker, API, producer): which Redis deployment a URL names and
 * how to connect to it. Three forms:
 *
 *   redis://[[user]:password@]host:port[/db]          one Redis (rediss:// for TLS)
 *   redis+sentinel://[[user]:password@]host:port[,host:port…]/mastername[?db=N]
 *                                                     a Sentinel group: the sentinels to ask, the name of
 *                                                     the master they watch; the password is the master's
 *                                                     (and its replicas'), the sentinels take none
 *
 * The config schemas (worker-config.ts, server-config.ts, producer-options.ts) validate with
 * `redisUrlSchema`, so a URL either parses here or is a configuration error naming what is wrong —
 * never echoing the URL, which may carry a password.
 */
import { z } from 'zod';

export interface RedisNode {
  host: string;
  port: number;
}

export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | { kind: 'sentinel'; sentinels: RedisNode[]; name: string; username?: string; password?: string; db: number };

/** A Redis URL that cannot be used; the message says why (one line, without the URL's password). */
export class RedisUrlError extends Error {
  override readonly name = 'RedisUrlError';
}

export const REDIS_URL_FORMS =
  'redis://[:password@]host:port[/db], rediss://… for TLS, or redis+sentinel://[:password@]host:port[,host:port…]/mastername[?db=N]';

const SENTINEL_SCHEME = 'redis+sentinel:';
const DB_MAX = 15_999;

/** What `url` names; throws RedisUrlError for anything else. */
export function parseRedisUrl(url: string): RedisTarget {
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'redis:' || scheme === 'rediss:') return { kind: 'standalone', url: checkStandalone(url) };
  if (scheme === SENTINEL_SCHEME) return parseSentinel(url);
  throw new RedisUrlError(`must be one of ${REDIS_URL_FORMS}`);
}

function checkStandalone(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RedisUrlError(`is not a URL (${REDIS_URL_FORMS})`);
  }
  if (u.hostname === '') throw new RedisUrlError('names no host (redis://host:port)');
  return url;
}

function parseSentinel(url: string): RedisTarget {
  // host lists are not WHATWG URLs: split by hand, decode the user part like a URL would
  const rest = url.slice(url.indexOf('//') + 2);
  const slash = rest.indexOf('/');
  if (slash < 0) throw new RedisUrlError('names no master: redis+sentinel://host:port[,host:port…]/mastername');
  const authority = rest.slice(0, slash);
  const [pathPart, query, ...more] = rest.slice(slash + 1).split('?');
  if (more.length > 0) throw new RedisUrlError('has more than one "?"');
  const at = authority.lastIndexOf('@');
  const userInfo = at >= 0 ? authority.slice(0, at) : undefined;
  const hosts = at >= 0 ? authority.slice(at + 1) : authority;

  const sentinels = hosts.split(',').map(parseNode);
  if (sentinels.length === 0) throw new RedisUrlError('names no sentinel');
  const name = decode(pathPart ?? '', 'master name');
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name)) throw new RedisUrlError('names no usable master: /mastername of letters, digits, "_", ".", "-"');

  let db = 0;
  for (const [key, value] of new URLSearchParams(query ?? '')) {
    if (key !== 'db') throw new RedisUrlError(`has an unknown parameter ${JSON.stringify(key)} (only db=N)`);
    if (!/^\d{1,5}$/.test(value) || Number(value) > DB_MAX) throw new RedisUrlError('has a db that is not a database number');
    db = Number(value);
  }
  const target: RedisTarget = { kind: 'sentinel', sentinels, name, db };
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(':');
    const username = decode(colon >= 0 ? userInfo.slice(0, colon) : userInfo, 'user name');
    const password = colon >= 0 ? decode(userInfo.slice(colon + 1), 'password') : '';
    if (username !== '') target.username = username;
    if (password !== '') target.password = password;
  }
  return target;
}

function parseNode(hostPort: string): RedisNode {
  // host:port, [v6]:port
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(hostPort);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65_535) throw new RedisUrlError(`has a sentinel that is not host:port (${JSON.stringify(hostPort.slice(0, 80))})`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function decode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new RedisUrlError(`has a ${what} that is not percent-encoded properly`);
  }
}

/** `url` with its user name and password (where present) replaced by *** (for logs and status lines). */
export function redactRedisUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(?:([^/@]*)@)?(.*)$/i.exec(url);
  if (!m) return '(invalid URL)';
  const userInfo = m[2];
  if (userInfo === undefined) return url;
  const colon = userInfo.indexOf(':');
  const user = colon >= 0 ? userInfo.slice(0, colon) : userInfo;
  const redacted = (user === '' ? '' : '***') + (colon >= 0 ? ':***' : '');
  return `${m[1]}${redacted}@${m[3]}`;
}

/** A zod schema for BUNDLEFARM_REDIS_URL and its option forms: a string that parseRedisUrl accepts. */
export const redisUrlSchema = z.string().superRefine((url, ctx) => {
  try {
    parseRedisUrl(url);
  } catch (err) {
    if (!(err instanceof RedisUrlError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
});
