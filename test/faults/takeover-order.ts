/*
 * What the self-fencing tests (lock-fencing: Redis cut at a TCP proxy; network-partition: a host's route
 * to Redis deleted in its network namespace) check alike, from the S3 front's request log: the worker
 * cut off from Redis (its own S3 key pair) wrote nothing that arrived — or, answered, took effect —
 * after the first write of the worker that took its job over, and it says it fenced itself.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { s3Calls, type RecordedS3Request } from '@bundlefarm/s3-local';
import { until, type ServiceEnvironment, type WorkerProcess } from '../service/service-environment.js';

/** A worker configuration file in the environment's directory: the environment's, changed by `edit`. */
export async function workerConfigWith(env: ServiceEnvironment, name: string, edit: (config: any) => void): Promise<string> {
  const config = JSON.parse(await readFile(env.workerEnv.BUNDLEFARM_CONFIG!, 'utf8'));
  edit(config);
  const file = join(env.dir, name);
  await writeFile(file, JSON.stringify(config));
  return file;
}

const isWrite = (r: RecordedS3Request): boolean => s3Calls.write(r) || s3Calls.delete(r);

/** The writes (PUT, DELETE …) the S3 front got with this access key. */
export function writesBy(env: ServiceEnvironment, keys: { accessKeyId: string }): RecordedS3Request[] {
  return env.s3.requests.filter((r) => r.accessKeyId === keys.accessKeyId && isWrite(r));
}

/** Waits until the cut worker has shown what it does: fenced itself, or wrote after the taker's first write. */
export async function untilFencedOrLate(env: ServiceEnvironment, cut: { keys: { accessKeyId: string }; worker: WorkerProcess }, taker: { accessKeyId: string }): Promise<void> {
  await until(
    'A to fence itself or write again',
    () => {
      const firstB = Math.min(...writesBy(env, taker).map((r) => r.receivedSeq));
      return /self-fencing/.test(cut.worker.output()) || writesBy(env, cut.keys).some((r) => r.receivedSeq > firstB) || undefined;
    },
    60_000,
    100,
  );
}

/**
 * Prints both workers' writes in arrival order, then asserts: each of the cut worker's (A's) writes
 * arrived, and if answered was answered, before the taker's (B's) first write arrived; A logged that it
 * fenced itself.
 */
export function assertCutWorkerWroteFirst(env: ServiceEnvironment, cut: { keys: { accessKeyId: string }; worker: WorkerProcess }, taker: { accessKeyId: string }): void {
  const writesA = writesBy(env, cut.keys);
  const writesB = writesBy(env, taker);
  assert.ok(writesA.length > 0 && writesB.length > 0);
  const firstB = Math.min(...writesB.map((r) => r.receivedSeq));
  const t0 = writesA[0]!.receivedAt;
  const timeline = [...writesA.map((r) => ['A', r] as const), ...writesB.map((r) => ['B', r] as const)].sort((x, y) => x[1].receivedSeq - y[1].receivedSeq);
  console.log(timeline.map(([who, r]) => `${who} ${r.method} ${r.key ?? ''} at +${Math.round(r.receivedAt - t0)} ms (seq ${r.receivedSeq}/${r.answeredSeq})`).join('\n'));
  for (const w of writesA) {
    assert.ok(w.receivedSeq < firstB, `A's ${w.method} ${w.key} arrived after B's first write`);
    assert.ok(w.answeredSeq === 0 || w.answeredSeq < firstB, `A's ${w.method} ${w.key} took effect after B's first write`);
  }
  assert.match(cut.worker.output(), /self-fencing/, 'A says it stopped writing');
  console.log(`A wrote ${writesA.length} times, B ${writesB.length}; A's last arrival at seq ${Math.max(...writesA.map((r) => r.receivedSeq))}, B's first at ${firstB}`);
}
