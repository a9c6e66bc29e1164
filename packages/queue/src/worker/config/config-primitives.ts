/**
 * The pieces every section of the worker configuration is checked with: zod rules for whole numbers,
 * paths, environment variable names and bind addresses; how a zod failure or a thrown error becomes a
 * ConfigProblem (never echoing a value: a misplaced secret must not reach an error message); and how
 * files read in parallel report their problems in a fixed order.
 */
import { z } from 'zod';
import { isBundlefarmError } from '@bundlefarm/errors';
import type { ConfigProblem } from '../worker-errors.js';

/** A whole number from `min` to `max`. */
export const whole = (min: number, max: number) => z.number().int(`must be a whole number from ${min} to ${max}`).min(min).max(max);

/** The name of an environment variable (the file names variables, never holds secrets). */
export const envNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be the name of an environment variable (letters, digits, "_")');

/** A file path (relative ones are resolved against the configuration file's directory). */
export const pathSchema = z.string().min(1, 'must be a file path').refine((s) => !s.includes('\0'), 'must not contain NUL');

/** An IPv4 or IPv6 address, or a host name, to bind a server to. */
export const hostSchema = z.string().regex(/^(?:[A-Za-z0-9.-]{1,253}|\[?[0-9A-Fa-f:.]{2,45}\]?)$/, 'must be an IP address or a host name, e.g. 127.0.0.1 or 0.0.0.0');

/** The issues of a zod failure as problems, by path; never the received values. */
export function zodProblems(error: z.ZodError, prefix = ''): ConfigProblem[] {
  return error.issues.map((i) => ({ path: prefix + (i.path.map(String).join('.') || '(file)'), message: i.message }));
}

/** A thrown error as a problem's message: `CODE: message` for a BundlefarmError. */
export function describeError(err: unknown): string {
  if (isBundlefarmError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** `o` without its undefined properties (exactOptionalPropertyTypes). */
export function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** What loading one thing came to: its value, or the problem. */
export type Outcome<T> = { value: T } | { problem: ConfigProblem };

/**
 * Loads every key at once; what loaded and the problems come out in the keys' order, whichever read ends
 * first, so neither depends on timing.
 */
export async function loadInOrder<K extends string, T>(keys: K[], load: (key: K) => Promise<Outcome<T>>, problems: ConfigProblem[]): Promise<Map<K, T>> {
  const outcomes = await Promise.all(keys.map(load));
  const loaded = new Map<K, T>();
  outcomes.forEach((o, i) => ('value' in o ? loaded.set(keys[i]!, o.value) : problems.push(o.problem)));
  return loaded;
}
