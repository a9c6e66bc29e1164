import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { BUNDLE_QUEUE, type BundleJobData, type BundleJobResult } from '@bundlefarm/queue';
import { REPO } from '../helpers/fixtures.js';
import { textLike } from '../helpers/images.js';
import { scrape, type Exposition } from '../helpers/prometheus-text.js';
import { ACCOUNT, serviceProcesses, spawnService, until, WORKER_BIN, type ServiceProcess } from '../helpers/service-processes.js';

/**
 * The metrics a user scrapes, from real processes: the API and a worker started with `metricsPort: 0`
 * (its URL from its 'worker started' log line), Redis, s3rver.
 *
 * - During a job the worker's /metrics shows the job running and its CPU pool busy; after it, the bytes
 *   of each stage equal the image and bundle sizes, and the part-upload histogram counted every part.
 * - A retry of a completed job (what Bull Board's "retry" does: the job runs again, finds every region
 *   published and completes at once) counts neither a completion nor bytes again, on the worker or the API.
 * - A cancel — of a running job and of a waiting one — counts as cancelled, never as a failure.
 * - Every metric deploy/grafana's dashboard queries is exported by the API or a worker, with the labels
 *   the dashboard uses.
 */
const MiB = 1024 * 1024;
/** Text-like (compressible: random data would be stored, not compressed) and big enough, at level 9 on one thread, that the pool is busy for seconds. */
const IMAGE_SIZE = 48 * MiB + 12345;
const REGION = 'us-east-1';

const env = await serviceProcesses({
  workers: 1,
  workerConfig: { threads: 1, concurrency: 1, progressIntervalMs: 200, metricsPort: 0 },
  images: async (root) => {
    await writeFile(join(root, 'a.img'), textLike(IMAGE_SIZE, 41));
    await writeFile(join(root, 'b.img'), textLike(IMAGE_SIZE, 42));
  },
});
const worker = env.workers[0]!;
const queue = new Queue<BundleJobData, BundleJobResult>(BUNDLE_QUEUE, { connection: { host: '127.0.0.1', port: env.redis.port }, prefix: env.prefix });
after(() => queue.close());
const bucket = await env.bucket('metrics');

function metricsUrlOf(w: ServiceProcess): string {
  const started = w.records().find((r) => r.msg === 'worker started');
  assert.ok(started, 'the worker logged its start');
  assert.equal(typeof started.metrics, 'string', `the start-up line names the metrics URL: ${JSON.stringify(started)}`);
  return started.metrics as string;
}
const workerUrl = metricsUrlOf(worker);
const apiUrl = `${env.api.url}/metrics`;

function spec(name: string, image: string): Record<string, unknown> {
  return { name, image, architecture: 'x86_64', accountId: ACCOUNT, identity: 'release', regions: [{ region: REGION, bucket, prefix: `${name}/` }], level: 9 };
}

async function enqueue(name: string, image: string): Promise<string> {
  const r = await env.request('POST', '/v1/bundles', spec(name, image));
  assert.equal(r.status, 202, r.text);
  return r.json.id as string;
}

async function status(id: string): Promise<any> {
  const r = await env.request('GET', `/v1/bundles/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** Scrapes taken while job A ran, for the dashboard check. */
const during: { worker?: Exposition; api?: Exposition } = {};

describe('metrics of the workers and the API', { concurrency: false, timeout: 10 * 60_000 }, () => {
  let completedId = '';
  let result: BundleJobResult;

  it('a worker serves /metrics: the job running and the pool busy during a job; bytes and part latencies after it', async () => {
    const home = await fetch(workerUrl.replace(/\/metrics$/, '/healthz'));
    assert.equal(home.status, 200);
    assert.match(workerUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/, 'bound to the loopback by default');
    const idle = await scrape(workerUrl);
    assert.equal(idle.value('bundlefarm_worker_jobs_running'), 0);
    assert.equal(idle.value('bundlefarm_worker_job_slots'), 1);
    assert.equal(idle.value('bundlefarm_worker_pool_threads'), 1);
    assert.equal(idle.value('bundlefarm_worker_read_bytes_total'), 0);
    const info = idle.samples.find((s) => s.name === 'bundlefarm_build_info');
    assert.ok(info, 'build info');
    assert.equal(info.value, 1);
    assert.equal(info.labels.node, process.version);
    assert.match(info.labels.version ?? '', /^\d+\.\d+\.\d+/);
    assert.match(info.labels.backends ?? '', /^deflate=(libdeflate|zlib),aes=(native|node:crypto),holes=(SEEK_DATA|read scan)$/);

    const id = await enqueue('metrics-a', 'a.img');
    completedId = id;
    during.worker = await until(
      'a scrape showing the job running on a busy pool',
      async () => {
        const m = await scrape(workerUrl);
        if (m.value('bundlefarm_worker_jobs_running') === 1 && (m.value('bundlefarm_worker_pool_threads_busy') ?? 0) >= 1) return m;
        // the job must still be running for this to be seen at all
        if ((await status(id)).finished) throw new Error('the job finished before any scrape saw it running with a busy pool');
        return undefined;
      },
      120_000,
      25,
    );
    during.api = await scrape(apiUrl);
    assert.equal(during.worker.value('bundlefarm_worker_jobs_started_total'), 1);
    assert.ok(during.worker.value('bundlefarm_worker_pool_busy_seconds_total')! > 0, 'busy time is counted');
    assert.equal(during.api.value('bundlefarm_jobs', { state: 'active' }), 1);

    const s = await until('the job to complete', async () => ((await status(id)).state === 'completed' ? status(id) : undefined), 180_000, 100);
    result = s.result;
    assert.equal(result.size, IMAGE_SIZE);
    const m = await until('the worker to count the completion', async () => {
      const x = await scrape(workerUrl);
      return x.value('bundlefarm_worker_jobs_completed_total') === 1 ? x : undefined;
    });
    assert.equal(m.value('bundlefarm_worker_jobs_running'), 0);
    assert.equal(m.value('bundlefarm_worker_read_bytes_total'), IMAGE_SIZE, 'every image byte read, once');
    assert.equal(m.value('bundlefarm_worker_compressed_bytes_total'), result.bundledSize, 'every bundle byte produced, once');
    assert.equal(m.value('bundlefarm_worker_uploaded_bytes_total', { region: REGION }), result.bundledSize, 'every part stored');
    assert.equal(m.value('bundlefarm_worker_part_upload_duration_seconds_count', { region: REGION }), result.parts, 'one latency per part PUT');
    assert.ok(m.value('bundlefarm_worker_part_upload_duration_seconds_sum', { region: REGION })! > 0);
    assert.equal(m.value('bundlefarm_worker_part_upload_duration_seconds_bucket', { region: REGION, le: '+Inf' }), result.parts);
    assert.equal(m.sum('bundlefarm_worker_part_upload_retries_total'), 0, 'no retries against a healthy S3');
    assert.ok(m.value('bundlefarm_worker_s3_requests_total', { operation: 'PutObject', outcome: 'ok' })! >= result.parts + 1, 'parts and the manifest');
    assert.equal(m.value('bundlefarm_worker_job_duration_seconds_count'), 1);
    assert.equal(m.sum('bundlefarm_worker_jobs_failed_total'), 0);
    assert.ok(m.value('bundlefarm_worker_pool_busy_seconds_total')! > during.worker.value('bundlefarm_worker_pool_busy_seconds_total')!);

    const api = await until('the API to count the completion', async () => {
      const x = await scrape(apiUrl);
      return x.value('bundlefarm_jobs_completed_total') === 1 ? x : undefined;
    });
    assert.equal(api.value('bundlefarm_image_bytes_total'), IMAGE_SIZE);
    assert.equal(api.value('bundlefarm_uploaded_bytes_total'), result.bundledSize);
    assert.equal(api.value('bundlefarm_job_duration_seconds_count'), 1);
  });

  it('a retry of a completed job (Bull Board\'s retry) and cancels leave the completed, failed and cancelled counters right', async () => {
    assert.ok(completedId, 'the first test completed a job');
    // the worker marks a job it completed, right after the completion
    const job = await until('the completed job to be marked', async () => {
      const j = await queue.getJob(completedId);
      return j?.data.firstCompletedAt ? j : undefined;
    });
    await job.retry('completed');
    const again = await until('the retried job to complete again', async () => {
      const j = await queue.getJob(completedId);
      return (await j?.getState()) === 'completed' && j?.returnvalue ? j.returnvalue : undefined;
    });
    assert.equal(again.repeated, true, 'the result says the job had completed before');
    assert.equal(again.digest, result.digest, 'the same bundle');

    const w = await until('the worker to see the second completion', async () => {
      const x = await scrape(workerUrl);
      return x.value('bundlefarm_worker_jobs_recompleted_total') === 1 ? x : undefined;
    });
    assert.equal(w.value('bundlefarm_worker_jobs_started_total'), 2, 'the retry ran');
    assert.equal(w.value('bundlefarm_worker_jobs_completed_total'), 1, 'completed once');
    assert.equal(w.value('bundlefarm_worker_read_bytes_total'), IMAGE_SIZE, 'no bytes counted again');
    assert.equal(w.value('bundlefarm_worker_compressed_bytes_total'), result.bundledSize);
    assert.equal(w.value('bundlefarm_worker_uploaded_bytes_total', { region: REGION }), result.bundledSize);
    assert.equal(w.value('bundlefarm_worker_job_duration_seconds_count'), 1);
    const a = await until('the API to see the second completion', async () => {
      const x = await scrape(apiUrl);
      return x.value('bundlefarm_jobs_recompleted_total') === 1 ? x : undefined;
    });
    assert.equal(a.value('bundlefarm_jobs_completed_total'), 1);
    assert.equal(a.value('bundlefarm_image_bytes_total'), IMAGE_SIZE);
    assert.equal(a.value('bundlefarm_uploaded_bytes_total'), result.bundledSize);
    assert.equal(a.value('bundlefarm_job_duration_seconds_count'), 1);

    // one job running, one waiting behind it (one job slot): cancel the waiting one, then the running one
    const running = await enqueue('metrics-b', 'b.img');
    await until('job B to run', async () => (await scrape(workerUrl)).value('bundlefarm_worker_jobs_running') === 1 && (await status(running)).state === 'active');
    const waiting = await enqueue('metrics-c', 'a.img');
    assert.equal((await status(waiting)).state, 'waiting');
    const c1 = await env.request('DELETE', `/v1/bundles/${waiting}`);
    assert.equal(c1.status, 200, c1.text);
    assert.equal(c1.json.outcome, 'removed');
    const c2 = await env.request('DELETE', `/v1/bundles/${running}`);
    assert.equal(c2.status, 202, c2.text);
    await until('job B to stop', async () => (await status(running)).finished || undefined, 120_000);

    const wc = await until('the worker to count the cancel', async () => {
      const x = await scrape(workerUrl);
      return x.value('bundlefarm_worker_jobs_cancelled_total') === 1 ? x : undefined;
    });
    assert.equal(wc.sum('bundlefarm_worker_jobs_failed_total'), 0, 'a cancel is not a failure');
    assert.equal(wc.value('bundlefarm_worker_jobs_completed_total'), 1);
    assert.equal(wc.value('bundlefarm_worker_jobs_running'), 0);
    const ac = await until('the API to count both cancels', async () => {
      const x = await scrape(apiUrl);
      return x.value('bundlefarm_jobs_cancelled_total') === 2 ? x : undefined;
    });
    assert.equal(ac.value('bundlefarm_jobs_failed_total', { code: 'BF_CANCELLED' }), undefined, 'never failed{code="BF_CANCELLED"}');
    assert.equal(ac.sum('bundlefarm_jobs_failed_total'), 0);
    assert.equal(ac.value('bundlefarm_jobs_completed_total'), 1);
  });

  it('a worker whose metrics port is taken does not start (before taking any job), and says why', async () => {
    const port = new URL(workerUrl).port;
    const second = spawnService(WORKER_BIN, { ...env.workerEnv, BUNDLEFARM_WORKER_METRICS_PORT: port });
    const exit = await second.exited;
    assert.equal(exit.code, 70, second.output());
    assert.match(second.output(), /EADDRINUSE/);
    assert.doesNotMatch(second.output(), /"msg":"job started"/);
  });

  it('the Grafana dashboard queries only metrics (and labels) the API and a worker export', async () => {
    assert.ok(during.worker && during.api, 'scrapes taken while a job ran');
    const dashboard = JSON.parse(await readFile(join(REPO, 'deploy', 'grafana', 'bundlefarm-dashboard.json'), 'utf8')) as Dashboard;
    const exprs = queriesOf(dashboard);
    assert.ok(exprs.length >= 20, `the dashboard has its queries (${exprs.length})`);
    const ids = new Set<number>();
    for (const p of dashboard.panels) {
      assert.ok(!ids.has(p.id), `panel id ${p.id} is unique`);
      ids.add(p.id);
      assert.ok(p.gridPos && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `panel ${p.title} fits the grid`);
    }
    const sources = [during.worker, during.api];
    /** Labels the scrape adds to every series (Prometheus target labels) and `le` of histogram buckets. */
    const targetLabels = new Set(['instance', 'job', 'le']);
    const problems: string[] = [];
    const used = new Set<string>();
    for (const expr of exprs) {
      const labelsHere = new Set(targetLabels);
      /** A labelled counter nothing has incremented yet shows no sample, hence no labels to check against. */
      let unseen = false;
      for (const m of expr.matchAll(/\b(bundlefarm_[a-z0-9_]+)\b(\{[^}]*\})?/g)) {
        const name = m[1]!;
        used.add(name);
        const family = sources.map((s) => s.familyOf(name)).find((f) => f !== undefined);
        if (!family) {
          problems.push(`${name} (in ${expr}) is exported by neither the API nor the worker`);
          continue;
        }
        // the labels a family has: from its samples; labelled counters with no sample yet have none to show
        const samples = sources.flatMap((s) => s.families.get(family.name)?.samples ?? []);
        if (samples.length === 0) unseen = true;
        const labels = new Set(samples.flatMap((x) => Object.keys(x.labels)));
        labels.forEach((l) => labelsHere.add(l));
        for (const matcher of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) {
          const label = matcher[1]!;
          if (!targetLabels.has(label) && !labels.has(label) && samples.length > 0) problems.push(`${name} has no label ${label} (in ${expr})`);
        }
      }
      for (const by of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
        for (const label of by[1]!.split(',').map((x) => x.trim()).filter(Boolean)) {
          if (!labelsHere.has(label) && !unseen) problems.push(`no metric of ${expr} has the label ${label}`);
        }
      }
    }
    assert.deepEqual(problems, []);
    // what an autoscaler and an operator need is on it
    for (const name of [
      'bundlefarm_jobs',
      'bundlefarm_queue_oldest_waiting_age_seconds',
      'bundlefarm_worker_jobs_running',
      'bundlefarm_worker_pool_busy_ratio',
      'bundlefarm_worker_pool_threads_busy',
      'bundlefarm_worker_part_upload_duration_seconds_bucket',
      'bundlefarm_worker_part_upload_retries_total',
      'bundlefarm_worker_read_bytes_total',
      'bundlefarm_worker_compressed_bytes_total',
      'bundlefarm_worker_uploaded_bytes_total',
      'bundlefarm_build_info',
    ]) {
      assert.ok(used.has(name), `the dashboard shows ${name}`);
    }
  });
});

interface Panel {
  id: number;
  title: string;
  type: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating?: { list: Array<{ query?: unknown; definition?: string }> };
}

/** Every PromQL expression of the dashboard: panel targets (rows' panels too) and template variable queries. */
function queriesOf(d: Dashboard): string[] {
  const out: string[] = [];
  const walk = (panels: Panel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push(t.expr);
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    const q = typeof v.query === 'object' && v.query !== null ? (v.query as { query?: string }).query : typeof v.query === 'string' ? v.query : undefined;
    if (q?.includes('bundlefarm_')) out.push(q);
  }
  return out;
}
