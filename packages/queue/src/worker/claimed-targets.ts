/**
 * The claims one attempt holds on its targets (target-claims.ts: one job at a time writes a bundle of
 * a name to a bucket and prefix). Taken before preflight — a target another job is writing to makes
 * this one wait (TargetBusyError) — and renewed every half lock duration while the attempt runs;
 * released when it ends, unless the attempt lost the job's lock: another worker may hold the job, and
 * these claims, by then.
 */
import type { RegionTarget } from '../job-spec.js';
import type { TargetClaims } from './target-claims.js';
import { TargetBusyError } from './worker-errors.js';
import type { WorkerLogger } from './worker-logger.js';

export class ClaimedTargets {
  private claimed: { targets: RegionTarget[]; name: string; renew: NodeJS.Timeout } | undefined;

  constructor(
    private readonly claims: TargetClaims,
    /** The job's mark (jobOwner): the holder of the claims. */
    private readonly owner: () => string,
    private readonly lockDurationMs: number,
    private readonly log: WorkerLogger,
  ) {}

  /** Takes the claim on every target and keeps renewing it; TargetBusyError when another job holds one. */
  async take(targets: RegionTarget[], name: string): Promise<void> {
    const mark = this.owner();
    const got = await this.claims.take(mark, targets, name, this.lockDurationMs);
    if (!got.held) throw new TargetBusyError(got.target, got.holder);
    const renew = setInterval(() => {
      this.claims.take(mark, targets, name, this.lockDurationMs).then(
        (again) => {
          if (!again.held) this.log.error({ target: again.target, holder: again.holder }, 'lost the claim on a target to another job');
        },
        (err: unknown) => this.log.warn({ err }, 'could not renew the claim on the targets'),
      );
    }, this.lockDurationMs / 2);
    renew.unref();
    this.claimed = { targets, name, renew };
  }

  /** Stops renewing the claims, and gives them up — unless `lockLost` (another worker may hold them now). */
  async release(lockLost: boolean): Promise<void> {
    const claimed = this.claimed;
    if (!claimed) return;
    this.claimed = undefined;
    clearInterval(claimed.renew);
    if (lockLost) return;
    await this.claims.release(this.owner(), claimed.targets, claimed.name).catch((err: unknown) => this.log.warn({ err }, 'could not release the claim on the targets'));
  }
}
