/*
 * Failed logins per client, bounded: after `maxFailures` failures within `windowMs` a client (its IP) is
 * refused — even with the right credentials — until its window ends, so a password cannot be guessed
 * at network speed. In memory, per API process (each replica counts its own clients); at most
 * `maxClients` clients are tracked: when full, expired entries go first, then the oldest.
 *
 * (@fastify/rate-limit counts every request, not failures only, so it cannot tell a viewer who loads
 * the board's 30 assets from a guesser; this counts failures and nothing else.)
 */
export interface FailureLimiterOptions {
  /** Failures allowed per window (default 10). */
  maxFailures?: number;
  /** Window, from a client's first failure (default 60 000 ms). */
  windowMs?: number;
  /** Clients tracked at most (default 10 000). */
  maxClients?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

interface Entry {
  failures: number;
  resetAt: number;
}

export class FailureLimiter {
  private readonly entries = new Map<string, Entry>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxClients: number;
  private readonly now: () => number;

  constructor(options: FailureLimiterOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxClients = options.maxClients ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Seconds until `client` may try again, or 0 when it may now. */
  blockedFor(client: string): number {
    const e = this.entries.get(client);
    if (!e) return 0;
    const left = e.resetAt - this.now();
    if (left <= 0) {
      this.entries.delete(client);
      return 0;
    }
    return e.failures >= this.maxFailures ? Math.ceil(left / 1000) : 0;
  }

  /** Counts a failed attempt of `client`. */
  fail(client: string): void {
    const now = this.now();
    const e = this.entries.get(client);
    if (e && e.resetAt > now) {
      e.failures++;
      return;
    }
    if (e) this.entries.delete(client);
    if (this.entries.size >= this.maxClients) this.evict(now);
    this.entries.set(client, { failures: 1, resetAt: now + this.windowMs });
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(now: number): void {
    for (const [k, e] of this.entries) if (e.resetAt <= now) this.entries.delete(k);
    // Map iteration is insertion order: the first entries are the oldest
    for (const k of this.entries.keys()) {
      if (this.entries.size < this.maxClients) break;
      this.entries.delete(k);
    }
  }
}
