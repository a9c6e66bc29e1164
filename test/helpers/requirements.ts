/*
 * One place that decides what a test does when this machine lacks what it needs — the native addon
 * or its libdeflate part, Chromium, a system tool such as ruby: skip, with the reason printed (on
 * stderr, once per file and reason, besides node:test's own `# reason`, and counted in the summary
 * of scripts/run-tests.mjs), unless the requirement's variable is 1 — then the file fails at once,
 * naming what is missing. `.ci/run` sets all three: CI never skips silently.
 *
 *   kind      variable                      covers
 *   native    BUNDLEFARM_REQUIRE_NATIVE=1   the native addon and its libdeflate part
 *   browser   BUNDLEFARM_REQUIRE_BROWSER=1  Chromium (BUNDLEFARM_CHROMIUM, default /usr/bin/chromium)
 *   tools     BUNDLEFARM_REQUIRE_TOOLS=1    system tools: ruby, e2fsprogs (mke2fs, debugfs), fincore …
 *
 * Use it as node:test's skip option, decided before anything is started:
 *
 *   const skip = requireOrSkip('tools', hasCommand('ruby'), 'ruby not found (apt-get install ruby)');
 *   describe('…', { skip }, () => { … });
 *
 * What a run turns off on purpose is not missing: with BUNDLEFARM_NATIVE=off (the fallback tier) the
 * tests of the addon skip even when it is required. The fast tier (`npm run test:fast`) skips the
 * multi-GiB tests (`slowOnly`) and run-tests.mjs leaves out the load and fault suites.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { loadLibdeflate, loadNative, nativeSwitchedOff } from '@bundlefarm/native';

export type Requirement = 'native' | 'browser' | 'tools';

export const REQUIRE_VARIABLES: Readonly<Record<Requirement, string>> = {
  native: 'BUNDLEFARM_REQUIRE_NATIVE',
  browser: 'BUNDLEFARM_REQUIRE_BROWSER',
  tools: 'BUNDLEFARM_REQUIRE_TOOLS',
};

/** Thrown (at load) when something a run requires is missing. */
export class MissingRequirementError extends Error {
  override readonly name = 'MissingRequirementError';
}

const printed = new Set<string>();

/** Prints a skip reason on stderr, once per process. */
export function announceSkip(reason: string): void {
  if (printed.has(reason)) return;
  printed.add(reason);
  process.stderr.write(`# SKIP ${reason}\n`);
}

/**
 * `false` when `available` (the test runs). Otherwise the skip reason (`kind: reason`), printed — or,
 * when the kind's BUNDLEFARM_REQUIRE_* variable is 1, a MissingRequirementError.
 */
export function requireOrSkip(kind: Requirement, available: boolean, reason: string): string | false {
  if (available) return false;
  const variable = REQUIRE_VARIABLES[kind];
  if (process.env[variable] === '1') throw new MissingRequirementError(`${variable}=1, but ${reason}`);
  const text = `${kind}: ${reason} (${variable}=1 makes this a failure)`;
  announceSkip(text);
  return text;
}

/** A skip reason for what the run turned off on purpose (printed; never a failure). */
function deliberately(reason: string): string {
  announceSkip(reason);
  return reason;
}

/** Skip option for tests of the addon's core (AES in place, SEEK_DATA, aligned offsets, the walker). */
export function needsNative(): string | false {
  const off = nativeSwitchedOff();
  if (off) return deliberately(`native: ${off} (the fallback tier)`);
  const loaded = loadNative();
  return requireOrSkip('native', loaded.binding !== null, loaded.binding === null ? loaded.reason : '');
}

/** Skip option for tests of the addon's libdeflate part (deflate pieces, CRC-32). */
export function needsLibdeflate(): string | false {
  const core = needsNative();
  if (core) return core;
  const loaded = loadLibdeflate();
  return requireOrSkip('native', loaded.binding !== null, loaded.binding === null ? loaded.reason : '');
}

/**
 * Skip option for tests that expect the engine to deflate with libdeflate (`auto` resolving to it):
 * as needsLibdeflate, and BUNDLEFARM_DEFLATE=zlib turns it off on purpose.
 */
export function needsLibdeflateBackend(): string | false {
  const v = process.env.BUNDLEFARM_DEFLATE;
  if (v === 'zlib') return deliberately('native: BUNDLEFARM_DEFLATE=zlib (the zlib deflate backend is chosen)');
  return needsLibdeflate();
}

/** Where Chromium is: BUNDLEFARM_CHROMIUM, default /usr/bin/chromium. */
export function chromiumPath(): string {
  return process.env.BUNDLEFARM_CHROMIUM || '/usr/bin/chromium';
}

/** Skip option for tests that drive Chromium. */
export function needsBrowser(): string | false {
  const path = chromiumPath();
  return requireOrSkip('browser', isExecutable(path), `Chromium not found at ${path} (apt-get install chromium, or set BUNDLEFARM_CHROMIUM)`);
}

/**
 * Skip option for tests that run system tools (`commands`, looked up on PATH and in the sbin
 * directories); `install` says how to get them.
 */
export function needsTools(commands: string[], install: string): string | false {
  const missing = commands.filter((c) => !hasCommand(c));
  return requireOrSkip('tools', missing.length === 0, `${missing.join(', ')} not found (${install})`);
}

/** Whether `command` is an executable on PATH or in /usr/sbin, /sbin (where e2fsprogs lives). */
export function hasCommand(command: string): boolean {
  return commandPath(command) !== undefined;
}

/** Where `command` is (first executable on PATH, then /usr/local/sbin, /usr/sbin, /sbin), or undefined. */
export function commandPath(command: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  return dirs.map((d) => join(d, command)).find(isExecutable);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** True in the fast tier (`npm run test:fast`, which sets BUNDLEFARM_TEST_TIER=fast). */
export const FAST_TIER = process.env.BUNDLEFARM_TEST_TIER === 'fast';

/** Skip option for a slow test (multi-GiB images and the like): skipped in the fast tier, printed. */
export function slowOnly(what: string): string | false {
  if (!FAST_TIER) return false;
  return deliberately(`fast tier: ${what} (npm test runs it)`);
}
