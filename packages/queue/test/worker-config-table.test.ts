import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { LOG_LEVELS } from '@bundlefarm/queue';
import { WORKER_DEFAULTS, WORKER_ENV } from '@bundlefarm/queue/worker';

/**
 * The reference an operator reads — the environment table at the top of worker-config.ts and its map of
 * sections to files — says what the code reads: every variable the worker reads is in the table and
 * nothing else, with the defaults the code applies, and every section file under config/ is named.
 */
const source = readFileSync(new URL('../src/worker/worker-config.ts', import.meta.url), 'utf8');
const overview = source.slice(0, source.indexOf('*/'));

/** `| \`NAME\` | default | meaning |` rows of the environment table, by variable. */
const rows = new Map(
  [...overview.matchAll(/^ \* \| `(BUNDLEFARM_[A-Z_]+)` *\| *([^|]*?) *\| *([^\n]*)\|$/gm)].map((m) => [m[1]!, { defaults: m[2]!, meaning: m[3]! }]),
);

describe('the worker configuration reference', () => {
  it('lists exactly the variables the worker reads', () => {
    assert.deepEqual([...rows.keys()].sort(), Object.values(WORKER_ENV).sort());
  });

  it('gives the defaults the code applies', () => {
    const row = (name: string) => rows.get(name)!;
    assert.equal(row(WORKER_ENV.redisUrl).defaults, `\`${WORKER_DEFAULTS.redisUrl}\``);
    assert.equal(row(WORKER_ENV.prefix).defaults, `\`${WORKER_DEFAULTS.prefix}\``);
    assert.equal(row(WORKER_ENV.logLevel).defaults, `\`${WORKER_DEFAULTS.logLevel}\``);
    assert.match(row(WORKER_ENV.logLevel).meaning, new RegExp(LOG_LEVELS.join(', ')));
    assert.match(row(WORKER_ENV.metricsHost).defaults, new RegExp(`\`${WORKER_DEFAULTS.metricsHost.replaceAll('.', '\\.')}\``));
  });

  it('names the file of every section', () => {
    const files = readdirSync(new URL('../src/worker/config/', import.meta.url)).filter((f) => f.endsWith('-config.ts'));
    assert.ok(files.length >= 8, files.join(', '));
    for (const file of files) assert.ok(overview.includes(`config/${file}`), `${file} is not in worker-config.ts's section table`);
  });
});
