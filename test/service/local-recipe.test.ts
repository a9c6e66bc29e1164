import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GetBucketLocationCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readLocalEnv } from '@bundlefarm/local-service';
import { REPO } from '../helpers/fixtures.js';
import { needsTools } from '../helpers/requirements.js';
import { tempDir } from '../helpers/temp-dir.js';

/*
 * docs/service.md's "Run it without Docker" recipe, line by line, as a user in a checkout follows it:
 * the `local-recipe: serve` block in one shell (`npm run service`, left running), the `local-recipe:
 * use` block in another, then Ctrl-C. What the test changes, and only that: `npm ci` is not run (the
 * checkout is built already), `npm run service` gets `-- --port 0 --s3-port 0` (free ports: other
 * tests run beside it), and HOME is a temporary directory (the default data dir lands there).
 *
 * It checks what the user relies on: the token printed once is the one in the 0600 env file and the
 * one the enqueue used; both regions' manifests are in the local S3, the GovCloud bucket really in
 * us-gov-west-1; Ctrl-C (SIGINT to the foreground process group, as a terminal sends it) stops every
 * process the command started — no redis-server, API or worker left behind.
 */
const skip = needsTools(['redis-server'], 'apt-get install redis-server');

/** The shell lines of the fenced block after `<!-- local-recipe: NAME -->` in docs/service.md. */
function recipeBlock(name: string): string {
  const doc = readFileSync(join(REPO, 'docs', 'service.md'), 'utf8');
  const m = new RegExp(`<!-- local-recipe: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(doc);
  assert.ok(m, `docs/service.md has no local-recipe: ${name} block`);
  return m[1]!;
}

/** Process ids whose parent chain leads to `root` (from /proc). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        found.push(pid);
        break;
      }
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

describe('docs/service.md: the serve --local recipe', { skip }, () => {
  it('serve in one shell, enqueue a us-east-1 + GovCloud job in another, Ctrl-C: both manifests published, nothing left running', async () => {
    const home = await tempDir('bundlefarm-recipe-home-');
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' };

    const serveLines = recipeBlock('serve')
      .split('\n')
      .map((l) => l.replace(/\s+#.*$/, '').trim())
      .filter(Boolean);
    assert.deepEqual(serveLines, ['npm ci', 'npm run service'], 'the recipe this test follows changed: update the test with it');
    const serve = spawn('bash', ['-c', `${serveLines[1]} -- --port 0 --s3-port 0`], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let started: number[] = [];
    after(() => {
      // a failed test leaves nothing behind either
      for (const pid of [...started, ...descendants(serve.pid!)]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    let output = '';
    serve.stdout.on('data', (d: Buffer) => (output += d.toString()));
    serve.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<void>((resolve) => serve.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (output.includes('Ctrl-C stops everything.')) resolve();
      };
      serve.stdout.on('data', check);
      void exited.then(() => reject(new Error(`npm run service exited before it was ready:\n${output}`)));
    });
    started = descendants(serve.pid!);
    const names = started.map(commandLine).join('\n');
    assert.match(names, /redis-server/);
    assert.match(names, /bundlefarm-api\.js/);
    assert.match(names, /bundlefarm-worker\.js/);

    // the secrets: printed once, the same in the env file, which only its owner may read
    const printedToken = /^API token: +(\S+)$/m.exec(output)?.[1];
    assert.ok(printedToken, `no API token printed:\n${output}`);
    assert.match(output, /^admin password: +\S{16,}$/m);
    const dataDir = join(home, '.local', 'share', 'bundlefarm', 'local');
    const local = await readLocalEnv(dataDir);
    assert.ok(local, 'no complete env file in the default data dir');
    assert.equal(local.apiToken, printedToken);
    assert.equal((await stat(join(dataDir, 'local.env'))).mode & 0o777, 0o600);
    assert.match(output, new RegExp(`API +${local.apiUrl.replaceAll('.', '\\.')}`));
    assert.match(output, new RegExp(`Bull Board +${local.apiUrl.replaceAll('.', '\\.')}/admin/queues`));
    assert.match(output, /metrics +http:\/\/127\.0\.0\.1:\d+\/metrics, worker 1 http:\/\/127\.0\.0\.1:\d+\/metrics/);
    assert.match(output, new RegExp(`S3 +us-gov-west-1 ${local.s3Endpoints['us-gov-west-1']!.replaceAll('.', '\\.')} \\(bucket bundlefarm-local-gov`));

    // the second shell: the use block as written (bash, in the checkout)
    const use = spawn('bash', ['-euo', 'pipefail', '-c', recipeBlock('use')], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let useOutput = '';
    use.stdout.on('data', (d: Buffer) => (useOutput += d.toString()));
    use.stderr.on('data', (d: Buffer) => (useOutput += d.toString()));
    const code = await new Promise<number | null>((resolve) => use.on('exit', (c) => resolve(c)));
    assert.equal(code, 0, `the use block failed:\n${useOutput}\n--- service:\n${output}`);
    assert.match(useOutput, /^job: +\S+ \(try\.img\) completed/m);
    assert.match(useOutput, /^us-east-1: s3:\/\/bundlefarm-local\/try\/try\.img\.manifest\.xml published$/m);
    assert.match(useOutput, /^us-gov-west-1: s3:\/\/bundlefarm-local-gov\/try\/try\.img\.manifest\.xml published$/m);

    // both manifests are in the local S3, each bucket in its region
    const credentials = { accessKeyId: local.s3AccessKeyId, secretAccessKey: local.s3SecretAccessKey };
    const targets: Array<[region: string, bucket: string]> = [
      ['us-east-1', 'bundlefarm-local'],
      ['us-gov-west-1', 'bundlefarm-local-gov'],
    ];
    for (const [region, bucket] of targets) {
      const s3: S3Client = new S3Client({ region, endpoint: local.s3Endpoints[region], forcePathStyle: true, credentials, maxAttempts: 1 });
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'try/try.img.manifest.xml' }));
        assert.ok((head.ContentLength ?? 0) > 0);
        const location = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
        assert.equal(location.LocationConstraint ?? 'us-east-1', region);
      } finally {
        s3.destroy();
      }
    }
    assert.ok((await readFile(join(dataDir, 'logs', 'worker-1.log'), 'utf8')).includes('"msg":"worker started"'));

    // Ctrl-C: SIGINT to the foreground process group
    process.kill(-serve.pid!, 'SIGINT');
    await exited;
    const deadline = Date.now() + 60_000;
    while (started.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const left = started.filter(alive).map((pid) => `${pid} ${commandLine(pid)}`);
    assert.deepEqual(left, [], `processes left running after Ctrl-C:\n${left.join('\n')}\n--- service:\n${output}`);
    assert.match(output, /local service stopped/);
  });
});
