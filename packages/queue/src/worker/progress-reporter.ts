/**
 * Turns what a job is doing into `job.updateProgress(BundleJobProgress)` calls that are cheap for Redis
 * and easy for watchers:
 *
 * - stages only move forward: queued → preflight → building-filesystem (jobs with `filesystem`) →
 *   bundling → uploading → publishing → done;
 * - `percent` is a whole number that never goes down: preflight 1, building the filesystem 2–31 (by
 *   the share of the tree's bytes or of the tarball read), bundling/uploading 2–94 or, after a build,
 *   32–94 (half image read, half parts stored — the part count is estimated from the compression ratio
 *   so far until it is known), publishing 95–99 (per region), done 100 — and not across attempts either: a later attempt
 *   (a retry, or another worker taking over a stalled job) starts from the highest percent an earlier
 *   one reported (`floorPercent`) and stays there until its own work passes it;
 * - an update is sent at once when the stage or a region's stage changes, otherwise at most once per
 *   `intervalMs` (a timer sends the latest state when things go quiet), never per part;
 * - updates go out one at a time, in order; while one is in flight, newer counter updates replace each
 *   other (a slow Redis sees the latest state, not a backlog), while stage changes are all kept. A
 *   failed update is reported to `onError` and the job goes on (progress is not worth failing for).
 *
 * "bundling" means the image is still being read and compressed (parts upload as they are produced);
 * "uploading" that the whole image has been read and the last parts are on their way.
 */
import type { BundleProgress } from '@bundlefarm/engine';
import { PART_SIZE } from '@bundlefarm/format';
import type { BundleJobProgress, FilesystemProgress, JobStage, RegionProgress } from '../job-types.js';

export interface ProgressReporterOptions {
  /** Least time between two updates that do not change a stage (ms). */
  intervalMs: number;
  /**
   * The highest percent an earlier attempt of the job reported (default 0): this attempt never reports
   * less, so watchers never see the job go back.
   */
  floorPercent?: number;
  onError?: (err: unknown) => void;
}

export type ProgressSender = (progress: BundleJobProgress) => Promise<unknown>;

const STAGES: readonly JobStage[] = ['queued', 'preflight', 'building-filesystem', 'bundling', 'uploading', 'publishing', 'done'];

/** Percent points of a filesystem build (after preflight's 1 %), taken from bundling's share. */
const BUILD_SHARE = 30;

export class JobProgressReporter {
  private readonly state: BundleJobProgress;
  private lastQueuedAt = Number.NEGATIVE_INFINITY;
  private lastKey = '';
  /** Updates waiting to be sent; only the last may be replaced (when it is not a stage change). */
  private readonly pending: Array<{ progress: BundleJobProgress; replaceable: boolean }> = [];
  private pump: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Percent points bundling starts after (a filesystem was built first). */
  private bundleBase = 2;

  /**
   * `regions`: the regions this attempt works on; `skipped`: regions published by an earlier attempt,
   * with their part counts.
   */
  constructor(
    private readonly send: ProgressSender,
    regions: readonly string[],
    skipped: Readonly<Record<string, number>>,
    private readonly options: ProgressReporterOptions,
  ) {
    const all: Record<string, RegionProgress> = {};
    for (const [region, parts] of Object.entries(skipped)) all[region] = { stage: 'skipped', partsDone: parts };
    for (const region of regions) all[region] = { stage: 'pending', partsDone: 0 };
    const floor = options.floorPercent;
    const percent = typeof floor === 'number' && Number.isFinite(floor) ? Math.min(99, Math.max(0, Math.floor(floor))) : 0;
    this.state = { stage: 'queued', percent, bytesIn: 0, totalIn: 0, bytesOut: 0, partsDone: 0, regions: all };
  }

  /** The latest state (a copy). */
  get current(): BundleJobProgress {
    return clone(this.state);
  }

  stage(stage: JobStage): void {
    if (this.advance(stage)) this.queue(true);
  }

  /** Progress of a filesystem build (`fraction` 0–1 of it, when known). */
  filesystem(p: FilesystemProgress, fraction?: number): void {
    const force = this.advance('building-filesystem') || this.state.filesystem?.phase !== p.phase;
    this.state.filesystem = { ...p };
    this.bundleBase = 2 + BUILD_SHARE;
    if (fraction !== undefined) this.raise(2 + Math.floor((BUILD_SHARE - 1) * Math.min(1, Math.max(0, fraction))));
    this.queue(force);
  }

  /** Progress of the bundle from the engine. */
  bundle(p: BundleProgress): void {
    const s = this.state;
    s.bytesIn = p.bytesIn;
    s.totalIn = p.totalIn;
    s.bytesOut = p.bytesOut;
    s.partsDone = p.partsDone;
    if (p.partsTotal !== undefined) s.partsTotal = p.partsTotal;
    let force = this.advance(p.bytesIn >= p.totalIn && p.totalIn > 0 ? 'uploading' : 'bundling');
    for (const r of Object.values(s.regions)) {
      if (r.stage === 'pending') {
        r.stage = 'uploading';
        force = true;
      }
      if (r.stage === 'uploading') r.partsDone = p.partsDone;
    }
    this.raise(this.bundleBase + Math.floor((94 - this.bundleBase) * bundleFraction(p)));
    this.queue(force);
  }

  /** `region` was given up: its counter stops. */
  regionFailed(region: string): void {
    const r = this.state.regions[region];
    if (!r || r.stage === 'failed') return;
    r.stage = 'failed';
    this.queue(true);
  }

  /** `region`'s manifest is up; `published` of `total` regions of this attempt are done. */
  regionPublished(region: string, parts: number, published: number, total: number): void {
    this.state.regions[region] = { stage: 'published', partsDone: parts };
    this.raise(95 + Math.floor((4 * published) / Math.max(1, total)));
    this.queue(true);
  }

  /** Final state: done, 100 %. Resolves when it (and everything before it) has been sent. */
  async finish(): Promise<void> {
    this.advance('done');
    this.state.percent = 100;
    this.state.bytesIn = this.state.totalIn;
    this.queue(true);
    await this.close();
  }

  /** Sends what is pending now, stops the timer; resolves when everything has been sent. */
  async close(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.queue(true);
    }
    this.stopped = true;
    await this.pump;
  }

  private advance(stage: JobStage): boolean {
    if (STAGES.indexOf(stage) <= STAGES.indexOf(this.state.stage)) return false;
    this.state.stage = stage;
    if (stage === 'preflight') this.raise(1);
    return true;
  }

  private raise(percent: number): void {
    this.state.percent = Math.min(100, Math.max(this.state.percent, percent));
  }

  private queue(force: boolean): void {
    if (this.stopped) return;
    const now = performance.now();
    if (!force && now - this.lastQueuedAt < this.options.intervalMs) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.queue(true);
      }, Math.max(0, this.lastQueuedAt + this.options.intervalMs - now));
      return;
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const snapshot = clone(this.state);
    const key = JSON.stringify(snapshot);
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.lastQueuedAt = now;
    const last = this.pending.at(-1);
    if (last?.replaceable && !force) last.progress = snapshot;
    else this.pending.push({ progress: snapshot, replaceable: !force });
    this.pump ??= this.drain();
  }

  private async drain(): Promise<void> {
    for (let next = this.pending.shift(); next; next = this.pending.shift()) {
      try {
        await this.send(next.progress);
      } catch (err) {
        this.options.onError?.(err);
      }
    }
    this.pump = undefined;
  }
}

/** 0–1: half the image read, half the parts stored (their count estimated until known). */
function bundleFraction(p: BundleProgress): number {
  if (p.totalIn <= 0) return 0;
  const read = Math.min(1, p.bytesIn / p.totalIn);
  const expectedOut = p.bytesIn > 0 ? (p.bytesOut * p.totalIn) / p.bytesIn : 0;
  const parts = p.partsTotal ?? Math.max(p.partsDone + 1, Math.ceil(expectedOut / PART_SIZE));
  const stored = Math.min(1, p.partsDone / Math.max(1, parts));
  return (read + stored) / 2;
}

function clone(p: BundleJobProgress): BundleJobProgress {
  return {
    ...p,
    regions: Object.fromEntries(Object.entries(p.regions).map(([k, v]) => [k, { ...v }])),
    ...(p.filesystem ? { filesystem: { ...p.filesystem } } : {}),
  };
}

/**
 * The percent an earlier attempt left in the job's stored progress (job data read back from Redis, so
 * anything: a number, an object, garbage), or 0.
 */
export function earlierPercent(stored: unknown): number {
  const p = typeof stored === 'object' && stored !== null ? (stored as { percent?: unknown }).percent : undefined;
  return typeof p === 'number' && Number.isFinite(p) ? Math.min(100, Math.max(0, p)) : 0;
}
