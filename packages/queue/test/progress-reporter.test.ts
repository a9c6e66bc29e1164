import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobProgressReporter, type BundleJobProgress } from '@bundlefarm/queue';

/**
 * The progress reporter on its own (its sender is where BullMQ's job.updateProgress goes; the end-to-end
 * tests watch the real thing through QueueEvents).
 */

const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function recorder(delayMs = 0): { sent: BundleJobProgress[]; send: (p: BundleJobProgress) => Promise<void> } {
  const sent: BundleJobProgress[] = [];
  return {
    sent,
    send: async (p) => {
      if (delayMs) await sleep(delayMs);
      sent.push(p);
    },
  };
}

function engine(bytesIn: number, partsDone: number, partsTotal?: number) {
  return { stage: 'bundling' as const, bytesIn, totalIn: 100 * MiB, bytesOut: bytesIn, partsDone, partsTotal };
}

describe('JobProgressReporter', () => {
  it('a filesystem build is its own stage between preflight and bundling, its percent below bundling\'s', async () => {
    const { sent, send } = recorder();
    const r = new JobProgressReporter(send, ['us-east-1'], {}, { intervalMs: 100_000 });
    r.stage('preflight');
    r.filesystem({ phase: 'scanning', entries: 0, fileBytes: 0 }, 0);
    r.filesystem({ phase: 'writing', entries: 500, fileBytes: 5 * MiB }, 0.5);
    r.filesystem({ phase: 'done', entries: 1000, fileBytes: 10 * MiB }, 1);
    r.stage('bundling');
    r.bundle(engine(0, 0));
    r.bundle(engine(100 * MiB, 10, 10));
    await r.finish();
    const stages = sent.map((p) => p.stage).filter((s, i, all) => s !== all[i - 1]);
    assert.deepEqual(stages, ['preflight', 'building-filesystem', 'bundling', 'uploading', 'done']);
    const build = sent.filter((p) => p.stage === 'building-filesystem');
    assert.deepEqual(build.map((p) => p.filesystem?.phase), ['scanning', 'writing', 'done'], 'each phase change is sent at once');
    assert.deepEqual(build.map((p) => p.percent), [2, 16, 31]);
    const percents = sent.map((p) => p.percent);
    assert.deepEqual(percents, [...percents].sort((a, b) => a - b), 'never goes down');
    assert.equal(sent.filter((p) => p.stage === 'bundling').at(-1)!.percent, 32, 'bundling starts where the build ended');
  });

  it('sends stage changes at once, the rest at most once per interval, and always a final 100 %', async () => {
    const { sent, send } = recorder();
    const r = new JobProgressReporter(send, ['us-east-1', 'eu-west-1'], { 'us-west-2': 3 }, { intervalMs: 1000 });
    r.stage('preflight');
    r.stage('bundling');
    for (let i = 1; i <= 500; i++) r.bundle(engine((i * 100 * MiB) / 1000, Math.floor(i / 50)));
    await sleep(20);
    // preflight, bundling, the first engine update (regions start uploading); the rest waits for the interval
    assert.ok(sent.length <= 4, `${sent.length} updates for 500 engine callbacks`);
    r.regionFailed('eu-west-1');
    r.stage('publishing');
    r.regionPublished('us-east-1', 10, 1, 1);
    await r.finish();
    const last = sent.at(-1)!;
    assert.equal(last.stage, 'done');
    assert.equal(last.percent, 100);
    assert.deepEqual(last.regions, {
      'us-west-2': { stage: 'skipped', partsDone: 3 },
      'us-east-1': { stage: 'published', partsDone: 10 },
      'eu-west-1': { stage: 'failed', partsDone: 10 },
    });
    assert.deepEqual(
      sent.map((p) => p.stage).filter((s, i, a) => a.indexOf(s) === i),
      ['preflight', 'bundling', 'publishing', 'done'],
    );
  });

  it('never lets the stage or the percentage go back, even when the estimate of the part count grows', async () => {
    const { sent, send } = recorder();
    const r = new JobProgressReporter(send, ['us-east-1'], {}, { intervalMs: 0 });
    r.stage('bundling');
    // compressible start (few parts expected), incompressible end (many more)
    r.bundle({ stage: 'bundling', bytesIn: 50 * MiB, totalIn: 100 * MiB, bytesOut: 5 * MiB, partsDone: 0, partsTotal: undefined });
    r.bundle({ stage: 'bundling', bytesIn: 60 * MiB, totalIn: 100 * MiB, bytesOut: 15 * MiB, partsDone: 1, partsTotal: undefined });
    r.bundle({ stage: 'bundling', bytesIn: 100 * MiB, totalIn: 100 * MiB, bytesOut: 55 * MiB, partsDone: 4, partsTotal: undefined });
    r.stage('bundling');
    r.bundle({ stage: 'done', bytesIn: 100 * MiB, totalIn: 100 * MiB, bytesOut: 60 * MiB, partsDone: 6, partsTotal: 6 });
    await r.finish();
    for (let i = 1; i < sent.length; i++) assert.ok(sent[i]!.percent >= sent[i - 1]!.percent, JSON.stringify(sent.map((p) => p.percent)));
    assert.ok(sent.some((p) => p.stage === 'uploading'), 'uploading once the whole image is read');
    assert.ok(sent.every((p) => p.percent <= 94 || p.stage === 'done' || p.stage === 'publishing'));
  });

  it('coalesces counter updates while one is in flight, keeps stage changes, and goes on after a failure', async () => {
    const sent: BundleJobProgress[] = [];
    const errors: unknown[] = [];
    let calls = 0;
    const r = new JobProgressReporter(
      async (p) => {
        calls++;
        await sleep(30);
        if (calls === 1) throw new Error('Redis hiccup');
        sent.push(p);
      },
      ['us-east-1'],
      {},
      { intervalMs: 0, onError: (e) => errors.push(e) },
    );
    for (let i = 0; i <= 100; i++) {
      if (i === 50) r.regionFailed('us-east-1');
      r.bundle(engine(i * MiB, Math.floor(i / 10)));
    }
    await r.finish();
    assert.ok(calls < 10, `${calls} sends for 101 updates`);
    // (the first send failed) latest counters before the region failed, the failure, latest counters after,
    // the whole image read, done: every change of a stage is sent, counters only as the latest state
    assert.deepEqual(
      sent.map((p) => `${p.stage}/${p.regions['us-east-1']!.stage}/${p.bytesIn / MiB}`),
      ['bundling/uploading/49', 'bundling/failed/49', 'bundling/failed/99', 'uploading/failed/100', 'done/failed/100'],
    );
    assert.equal(errors.length, 1);
    assert.equal(sent.at(-1)!.percent, 100);
    assert.equal(sent.at(-1)!.bytesIn, 100 * MiB);
  });

  it('sends the latest state when things go quiet (the interval timer)', async () => {
    const { sent, send } = recorder();
    const r = new JobProgressReporter(send, ['us-east-1'], {}, { intervalMs: 50 });
    r.stage('bundling');
    r.bundle(engine(10 * MiB, 0));
    r.bundle(engine(20 * MiB, 1));
    const before = sent.length;
    await sleep(120);
    assert.ok(sent.length > before);
    assert.equal(sent.at(-1)!.bytesIn, 20 * MiB);
    await r.close();
  });
});
