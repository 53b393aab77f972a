import { AppError } from '../errors.js';
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

/** One action's limits: per user and per client address, over the same window. */
export interface ActionLimit {
  readonly name: string;
  readonly perUser: RateLimiter;
  readonly perAddress: RateLimiter;
}

export function actionLimit(name: string, perUserPerMinute: number, perAddressPerMinute: number): ActionLimit {
  return { name, perUser: new RateLimiter(perUserPerMinute, 60_000), perAddress: new RateLimiter(perAddressPerMinute, 60_000) };
}

/**
 * Counts one attempt of the action by `userId` from `ip`; throws RATE_LIMITED (429, `Retry-After`) when either
 * limit is crossed. Call it before any work is done, so a refused attempt costs nothing.
 */
export function enforce(limit: ActionLimit, userId: string, ip: string, onLimited?: (name: string) => void): void {
  const wait = Math.max(limit.perUser.hit(userId), limit.perAddress.hit(ip));
  if (wait === 0) return;
  onLimited?.(limit.name);
  throw new AppError('RATE_LIMITED', `Too many ${limit.name} requests; try again in ${wait} s.`, { retryAfterS: wait });
}

export function closeLimit(limit: ActionLimit): void {
  limit.perUser.close();
  limit.perAddress.close();
}
