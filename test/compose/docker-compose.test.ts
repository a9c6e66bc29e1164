import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { REPO } from '../helpers/fixtures.js';

/**
 * docker-compose.yml as compose would read it (no Docker engine runs here, so the file is parsed and
 * its variables interpolated the way compose does): no secret has a default — compose refuses to
 * start without each —, every published port is on 127.0.0.1 unless the user says otherwise, Redis is
 * not published and wants a password, and the workers (and the API) use MinIO users of their own,
 * made by minio-init with policies limited to the bundle and image buckets — never the root account.
 */

class MissingVariable extends Error {}

/** Compose's interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, nested. */
function interpolate(text: string, env: Record<string, string>): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$$', i)) {
      out += '$';
      i += 2;
    } else if (text.startsWith('${', i)) {
      let depth = 1;
      let j = i + 2;
      while (j < text.length && depth > 0) {
        if (text.startsWith('${', j)) {
          depth++;
          j += 2;
        } else {
          if (text[j] === '}') depth--;
          j++;
        }
      }
      const inner = text.slice(i + 2, j - 1);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([\s\S]*))?$/.exec(inner);
      assert.ok(m, `a variable expression: \${${inner}}`);
      const [, name, colon, op, rest] = m;
      const value = env[name!];
      const missing = value === undefined || (colon === ':' && value === '');
      if (op === undefined) out += value ?? '';
      else if (!missing) out += value;
      else if (op === '-') out += interpolate(rest ?? '', env);
      else throw new MissingVariable(`${name}: ${interpolate(rest ?? '', env)}`);
      i = j;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

type Compose = { services: Record<string, { ports?: string[]; environment?: Record<string, string>; command?: unknown; volumes?: string[] }> };

const text = await readFile(join(REPO, 'docker-compose.yml'), 'utf8');
// compose resolves YAML merge keys (<<: *anchor)
const raw = parse(text, { merge: true }) as Compose;

/** Each required secret, with a value (what a filled-in .env gives). */
const SECRETS = {
  REDIS_PASSWORD: 'r'.repeat(48),
  MINIO_ROOT_PASSWORD: 'm'.repeat(32),
  BUNDLEFARM_S3_WORKER_SECRET: 'w'.repeat(32),
  BUNDLEFARM_S3_READER_SECRET: 'a'.repeat(32),
  BUNDLEFARM_JOB_MAC_KEY: 'k'.repeat(64),
};

/** The file as compose reads it: YAML first (comments are not interpolated), then every string value interpolated. */
function render(env: Record<string, string>): Compose {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return interpolate(v, env);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(raw) as Compose;
}

describe('docker-compose.yml', () => {
  it('has no default for any secret: compose refuses to start without each, naming it', () => {
    const values = JSON.stringify(raw);
    const expressions = [...values.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])([^}]*)\}/g)];
    for (const [whole, name, op, rest] of expressions) {
      if (/PASSWORD|SECRET|MAC_KEY|TOKEN/.test(name!) && op!.endsWith('-')) {
        assert.equal(rest, '', `${whole}: a secret with a default`);
      }
    }
    assert.match(text, /MINIO_ROOT_PASSWORD: \$\{MINIO_ROOT_PASSWORD:\?/);
    for (const name of Object.keys(SECRETS)) {
      const without = { ...SECRETS } as Record<string, string>;
      delete without[name];
      assert.throws(() => render(without), (err: unknown) => err instanceof MissingVariable && err.message.startsWith(`${name}:`), `${name} is required`);
      assert.throws(() => render({ ...without, [name]: '' }), MissingVariable, `${name} may not be empty`);
    }
    assert.doesNotThrow(() => render(SECRETS));
  });

  it('publishes ports on 127.0.0.1 only unless the user opts in; Redis not at all', () => {
    const c = render(SECRETS);
    const published = Object.entries(c.services).flatMap(([service, s]) => (s.ports ?? []).map((p) => [service, String(p)] as const));
    assert.ok(published.length >= 3, 'the API and MinIO are published');
    for (const [service, port] of published) assert.match(port, /^127\.0\.0\.1:\d+:\d+$/, `${service}: ${port}`);
    assert.equal(c.services.redis?.ports, undefined, 'Redis is not published');
    assert.ok(JSON.stringify(c.services.redis?.command).includes('--requirepass'), 'Redis wants a password');
    assert.match(c.services.api?.environment?.BUNDLEFARM_REDIS_URL ?? '', /^redis:\/\/:r{48}@redis:6379$/);
    // opting in
    const open = render({ ...SECRETS, API_BIND: '0.0.0.0' });
    assert.deepEqual(open.services.api?.ports, ['0.0.0.0:8080:8080']);
  });

  it('gives the workers and the API MinIO users of their own, limited by policies minio-init attaches — never root', () => {
    const c = render(SECRETS);
    const worker = c.services.worker!.environment!;
    const api = c.services.api!.environment!;
    assert.equal(worker.BUNDLEFARM_S3_SECRET_ACCESS_KEY, SECRETS.BUNDLEFARM_S3_WORKER_SECRET);
    assert.equal(api.BUNDLEFARM_S3_SECRET_ACCESS_KEY, SECRETS.BUNDLEFARM_S3_READER_SECRET);
    for (const env of [worker, api]) {
      assert.notEqual(env.BUNDLEFARM_S3_SECRET_ACCESS_KEY, SECRETS.MINIO_ROOT_PASSWORD);
      assert.notEqual(env.BUNDLEFARM_S3_ACCESS_KEY_ID, c.services.minio!.environment!.MINIO_ROOT_USER);
      assert.ok(!Object.values(env).includes(SECRETS.MINIO_ROOT_PASSWORD), 'no root password in the environment');
    }
    const init = c.services['minio-init']!;
    const script = String((init.command as string[])[0]);
    assert.match(script, /mc admin user add local "\$WORKER_USER" "\$WORKER_SECRET"/);
    assert.match(script, /mc admin policy attach local bundlefarm-worker --user "\$WORKER_USER"/);
    assert.match(script, /mc admin policy attach local bundlefarm-reader --user "\$READER_USER"/);
    // every resource of the policies is one of the two buckets (or their objects)
    const resources = [...script.matchAll(/"arn:aws:s3:::([^"]*)"/g)].map((m) => m[1]!);
    assert.ok(resources.length >= 4);
    for (const r of resources) assert.match(r, /^\$(AMI_BUCKET|IMAGE_BUCKET)(\/\*)?$/, r);
    assert.ok(!/"s3:\*"|"Action":\s*"\*"/.test(script), 'no wildcard actions');
    const imageActions = [...script.matchAll(/"Action":\[([^\]]*)\],"Resource":\["arn:aws:s3:::\$IMAGE_BUCKET\/\*"\]/g)].map((m) => m[1]);
    for (const a of imageActions) assert.ok(!/Put|Delete/.test(a!), `images are read only: ${a}`);
    assert.equal(init.environment!.WORKER_SECRET, SECRETS.BUNDLEFARM_S3_WORKER_SECRET);
  });

  it('gives the API and the workers the same principals file and job MAC key', () => {
    const c = render(SECRETS);
    const worker = c.services.worker!.environment!;
    const api = c.services.api!.environment!;
    assert.equal(worker.BUNDLEFARM_JOB_MAC_KEY, SECRETS.BUNDLEFARM_JOB_MAC_KEY);
    assert.equal(api.BUNDLEFARM_JOB_MAC_KEY, SECRETS.BUNDLEFARM_JOB_MAC_KEY);
    assert.equal(worker.BUNDLEFARM_PRINCIPALS_FILE, api.BUNDLEFARM_PRINCIPALS_FILE);
    assert.ok(c.services.worker!.volumes!.some((v) => v.startsWith('./config:/etc/bundlefarm-api')), 'the workers see the principals file');
    assert.equal(raw.services.api!.environment!.BUNDLEFARM_API_TOKENS, '${BUNDLEFARM_API_TOKENS:-}', 'legacy tokens are optional');
  });
});
