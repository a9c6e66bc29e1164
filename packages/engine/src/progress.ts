/** Progress of one bundle, as reported to callbacks (CLI progress bar, job progress). */
export interface BundleProgress {
  stage: 'bundling' | 'done';
  /** Image bytes read so far. */
  bytesIn: number;
  /** Image size. */
  totalIn: number;
  /** Encrypted bytes produced so far (the bundle's size when done). */
  bytesOut: number;
  /** Parts accepted by the sink. */
  partsDone: number;
  /** Known once the last part is produced. */
  partsTotal: number | undefined;
}

/** Calls `callback` with a copy of the progress at most every `intervalMs`, and always on `flush`. */
export class ProgressThrottle {
  private last = 0;

  constructor(
    private readonly callback: ((p: BundleProgress) => void) | undefined,
    private readonly intervalMs: number,
  ) {}

  update(progress: BundleProgress): void {
    if (!this.callback) return;
    const now = performance.now();
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    this.callback({ ...progress });
  }

  flush(progress: BundleProgress): void {
    this.last = performance.now();
    this.callback?.({ ...progress });
  }
}
