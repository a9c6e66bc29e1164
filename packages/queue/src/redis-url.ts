/*
 * The one parser of BUNDLEFARM_REDIS_URL (worker, API, producer): which Redis deployment a URL names and
 * how to connect to it. Three forms:
 *
 *   redis://[[user]:password@]host:port[/db]          one Redis (rediss:// for TLS)
 *   redis+sentinel://[[user]:password@]host:port[,host:port…]/mastername[?db=N]
 *                                                     a Sentinel group: the sentinels to ask, the name of
 *                                                     the master they watch; the password is the master's
 *                                                     (and its replicas'), the sentinels take none
 *   redis+cluster://[[user]:password@]host:port[,host:port…]
 *                                                     a Redis Cluster: some of its nodes (the rest are
 *                                                     found from them); every key of one queue must then
 *                                                     hash to one slot, so the queue prefix needs a hash
 *                                                     tag — `{bundlefarm}` unless one is set
 *
 * The config schemas (worker-config.ts, server-config.ts, producer-options.ts) validate with
 * `redisUrlSchema`, so a URL either parses here or is a configuration error naming what is wrong —
 * never echoing the URL, which may carry a password.
 */
import { z } from 'zod';
import { DEFAULT_PREFIX } from './queue-settings.js';

export interface RedisNode {
  host: string;
  port: number;
}

export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | { kind: 'sentinel'; sentinels: RedisNode[]; name: string; username?: string; password?: string; db: number }
  | { kind: 'cluster'; nodes: RedisNode[]; username?: string; password?: string };

/** A Redis URL that cannot be used; the message says why (one line, without the URL's password). */
export class RedisUrlError extends Error {
  override readonly name = 'RedisUrlError';
}

export const REDIS_URL_FORMS =
  'redis://[:password@]host:port[/db], rediss://… for TLS, redis+sentinel://[:password@]host:port[,host:port…]/mastername[?db=N] or redis+cluster://[:password@]host:port[,host:port…]';

const SENTINEL_SCHEME = 'redis+sentinel:';
const CLUSTER_SCHEME = 'redis+cluster:';
/** The queue prefix with a Redis Cluster when none is set: one hash tag, so every queue key is in one slot. */
export const CLUSTER_DEFAULT_PREFIX = '{bundlefarm}';
const DB_MAX = 15_999;

/** What `url` names; throws RedisUrlError for anything else. */
export function parseRedisUrl(url: string): RedisTarget {
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'redis:' || scheme === 'rediss:') return { kind: 'standalone', url: checkStandalone(url) };
  if (scheme === SENTINEL_SCHEME) return parseSentinel(url);
  if (scheme === CLUSTER_SCHEME) return parseCluster(url);
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

  const sentinels = hosts.split(',').map((n) => parseNode(n));
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
  if (userInfo !== undefined) Object.assign(target, userOf(userInfo));
  return target;
}

function parseCluster(url: string): RedisTarget {
  const rest = url.slice(url.indexOf('//') + 2).replace(/\/$/, '');
  if (/[/?]/.test(rest)) throw new RedisUrlError('has a path or parameters: a cluster URL is redis+cluster://[:password@]host:port[,host:port…] (a cluster has database 0 only)');
  const at = rest.lastIndexOf('@');
  const nodes = (at >= 0 ? rest.slice(at + 1) : rest).split(',').map((n) => parseNode(n, 'node'));
  const target: RedisTarget = { kind: 'cluster', nodes };
  if (at >= 0) Object.assign(target, userOf(rest.slice(0, at)));
  return target;
}

function userOf(userInfo: string): { username?: string; password?: string } {
  const colon = userInfo.indexOf(':');
  const username = decode(colon >= 0 ? userInfo.slice(0, colon) : userInfo, 'user name');
  const password = colon >= 0 ? decode(userInfo.slice(colon + 1), 'password') : '';
  return { ...(username !== '' ? { username } : {}), ...(password !== '' ? { password } : {}) };
}

function parseNode(hostPort: string, what = 'sentinel'): RedisNode {
  // host:port, [v6]:port
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(hostPort);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65_535) throw new RedisUrlError(`has a ${what} that is not host:port (${JSON.stringify(hostPort.slice(0, 80))})`);
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

/** Whether `prefix` has a Redis hash tag: a `{`, then at least one character, then `}`. */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  return open >= 0 && prefix.indexOf('}', open + 1) > open + 1;
}

/**
 * The queue prefix to use with the Redis `url` names: `prefix` when set, else the default —
 * CLUSTER_DEFAULT_PREFIX with a cluster. A cluster with a prefix set without a hash tag: RedisUrlError
 * (its keys would spread over slots, and BullMQ's scripts touch several at once).
 */
export function resolveQueuePrefix(url: string, prefix: string | undefined): string {
  const cluster = parseRedisUrl(url).kind === 'cluster';
  if (prefix === undefined) return cluster ? CLUSTER_DEFAULT_PREFIX : DEFAULT_PREFIX;
  if (cluster && !hasHashTag(prefix)) {
    throw new RedisUrlError(`must contain a hash tag with a Redis Cluster (redis+cluster://), e.g. {${prefix.replace(/[{}]/g, '') || 'bundlefarm'}}, so that every key of the queue is in one slot`);
  }
  return prefix;
}

/** The problem with `prefix` for `url` (see resolveQueuePrefix), or undefined; a bad `url` is reported elsewhere. */
export function queuePrefixProblem(url: string, prefix: string | undefined): string | undefined {
  try {
    resolveQueuePrefix(url, prefix);
    return undefined;
  } catch (err) {
    if (!(err instanceof RedisUrlError)) throw err;
    return /hash tag/.test(err.message) ? err.message : undefined;
  }
}
