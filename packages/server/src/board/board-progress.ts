/*
 * A bundle job's progress as Bull Board shows it. The board draws a job's progress bar from a number,
 * or from an object's numeric `progress` field, and shows the object itself in the job's Progress tab;
 * our progress (BundleJobProgress) has `percent` instead, so the board drew no bar and showed raw
 * counters. This formatter gives it `progress` (the percent) and says the rest in words: the stage,
 * bytes read and written, parts, and one line per region. The stored progress is read back from Redis,
 * so anything that is not an object of the expected shape is shown as it is.
 */
import type { BundleJobProgress } from '@bundlefarm/queue';

export interface BoardProgress {
  /** The percent, 0–100: what Bull Board draws the bar from. */
  progress: number;
  stage: string;
  image?: string;
  bundle?: string;
  parts?: string;
  /** Region → "uploading, 3 parts" / "published, 12 parts" / "failed" … */
  regions: Record<string, string>;
}

const MiB = 1024 * 1024;
const mib = (n: number): string => `${(n / MiB).toFixed(n < 10 * MiB ? 1 : 0)} MiB`;
const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;

export function boardProgress(stored: unknown): unknown {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return stored;
  const p = stored as Partial<BundleJobProgress>;
  if (!isCount(p.percent)) return stored;
  const out: BoardProgress = { progress: Math.min(100, p.percent), stage: typeof p.stage === 'string' ? p.stage : 'unknown', regions: {} };
  if (isCount(p.bytesIn) && isCount(p.totalIn) && p.totalIn > 0) out.image = `${mib(p.bytesIn)} of ${mib(p.totalIn)} read`;
  if (isCount(p.bytesOut) && p.bytesOut > 0) out.bundle = `${mib(p.bytesOut)} bundled`;
  if (isCount(p.partsDone)) out.parts = isCount(p.partsTotal) ? `${p.partsDone} of ${p.partsTotal}` : `${p.partsDone}`;
  if (typeof p.regions === 'object' && p.regions !== null) {
    for (const [region, r] of Object.entries(p.regions as Record<string, unknown>)) {
      const stage = typeof (r as { stage?: unknown } | null)?.stage === 'string' ? (r as { stage: string }).stage : 'unknown';
      const parts = (r as { partsDone?: unknown } | null)?.partsDone;
      out.regions[region] = isCount(parts) && stage !== 'pending' && stage !== 'failed' ? `${stage}, ${parts} part${parts === 1 ? '' : 's'}` : stage;
    }
  }
  return out;
}
