/**
 * A fixed-window counter per key, in memory. Enough for one process; several processes each keep their own
 * counts (documented in the README's scaling notes).
 */
export class RateLimiter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();
  readonly #sweep: NodeJS.Timeout;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#sweep = setInterval(() => this.#expire(), Math.min(windowMs, 60_000));
    this.#sweep.unref();
  }

  /** Counts one hit; returns the seconds to wait when over the limit, or 0 when allowed. */
  hit(key: string): number {
    const now = this.now();
    let w = this.#windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { count: 0, resetAt: now + this.windowMs };
      this.#windows.set(key, w);
    }
    w.count += 1;
    return w.count > this.limit ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 0;
  }

  /** Seconds until `key` may try again without counting a hit (0 when it may now). */
  blockedFor(key: string): number {
    const w = this.#windows.get(key);
    const now = this.now();
    if (!w || w.resetAt <= now || w.count < this.limit) return 0;
    return Math.max(1, Math.ceil((w.resetAt - now) / 1000));
  }

  reset(key: string): void {
    this.#windows.delete(key);
  }

  #expire(): void {
    const now = this.now();
    for (const [k, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(k);
  }

  close(): void {
    clearInterval(this.#sweep);
  }
}
