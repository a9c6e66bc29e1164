import cliProgress from 'cli-progress';

/**
 * A progress bar on stderr when it is a terminal (and not --quiet); silent otherwise, so logs of CI jobs
 * stay clean.
 */
export interface ProgressView {
  update(done: number, total: number, detail: string): void;
  stop(): void;
}

export function createProgressView(enabled: boolean, label: string, stream: NodeJS.WriteStream = process.stderr): ProgressView {
  if (!enabled || !stream.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% | {detail} | ETA {eta_formatted}`,
      barCompleteChar: '#',
      barIncompleteChar: '-',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.legacy,
  );
  let started = false;
  return {
    update(done, total, detail) {
      if (!started) {
        bar.start(Math.max(1, total), 0, { detail });
        started = true;
      }
      bar.setTotal(Math.max(1, total));
      bar.update(done, { detail });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}
