/**
 * docs/errors.md, rendered from the error registry: one row per code with its HTTP status, whether trying
 * again may help, where it comes from, and its meaning. `npm run docs:errors` writes it; a test fails
 * when the file in the repository is not what this renders.
 */
import { ERROR_REGISTRY, type ErrorEntry } from './error-registry.js';

const RETRY_TEXT: Record<ErrorEntry['retry'], string> = { yes: 'yes', no: 'no', depends: 'depends on the cause' };

export function renderErrorTable(): string {
  const rows = Object.entries(ERROR_REGISTRY)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, e]: [string, ErrorEntry]) => `| \`${code}\` | ${e.http} | ${RETRY_TEXT[e.retry]} | ${e.where} | ${e.meaning.replaceAll('|', '\\|')} |`);
  return [
    '# Error codes',
    '',
    '<!-- generated from packages/errors/src/error-registry.ts by `npm run docs:errors`; do not edit by hand -->',
    '',
    'Every error bundlefarm reports carries one of these codes: the CLI prints `bundlefarm: CODE: message`',
    'on one line (exit 1), the API answers `{ "error": CODE, "message": … }` with the HTTP status below, and',
    'a failed job records `{ code, message, transient }`. Codes are stable; match on them, never on messages.',
    '"Retry" says whether the same request may succeed later (a worker retries those; the others fail the',
    'job at once). "Where": `cli`, `api`, `worker` (a job\'s failure), or `any`.',
    '',
    '| Code | HTTP | Retry | Where | Meaning |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
