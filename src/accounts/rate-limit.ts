/**
 * Rate limits: fixed windows per key, counted by rate-limiter-flexible (a maintained limiter whose Redis store
 * has the same interface, for limits shared by several servers). In memory, one process keeps its own counts
 * (documented in the README's scaling notes).
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../errors.js';

const waitS = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

export class RateLimiter {
  readonly #rl: RateLimiterMemory;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {
    this.#rl = new RateLimiterMemory({ points: limit, duration: windowMs / 1000 });
  }

  /** Counts one hit; returns the seconds to wait when over the limit, or 0 when allowed. */
  async hit(key: string): Promise<number> {
    return (await this.take(key)).wait;
  }

  /** Counts one hit; returns the seconds to wait (0 when allowed) and the hits counted in this window. */
  async take(key: string): Promise<{ wait: number; count: number }> {
    try {
      const res = await this.#rl.consume(key);
      return { wait: 0, count: res.consumedPoints };
    } catch (res) {
      if (res instanceof RateLimiterRes) return { wait: waitS(res.msBeforeNext), count: res.consumedPoints };
      throw res;
    }
  }

  /** Seconds until `key` may try again without counting a hit (0 when it may now). */
  async blockedFor(key: string): Promise<number> {
    const res = await this.#rl.get(key);
    if (!res || res.consumedPoints < this.limit || res.msBeforeNext <= 0) return 0;
    return waitS(res.msBeforeNext);
  }

  async reset(key: string): Promise<void> {
    await this.#rl.delete(key);
  }

  /** Nothing to release: the store's timers do not hold the process open. Kept for symmetry with other stores. */
  close(): void {}
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

/** RATE_LIMITED (429 with `Retry-After`, or the WebSocket's `retryAfterS`). */
export function rateLimited(what: string, waitSeconds: number): AppError {
  return new AppError('RATE_LIMITED', `Too many ${what}; try again in ${waitSeconds} s.`, { retryAfterS: waitSeconds });
}

/**
 * Counts one attempt of the action by `userId` from `ip`; throws RATE_LIMITED (429, `Retry-After`) when either
 * limit is crossed. Call it before any work is done, so a refused attempt costs nothing.
 */
export async function enforce(limit: ActionLimit, userId: string, ip: string, onLimited?: (name: string) => void): Promise<void> {
  const wait = Math.max(await limit.perUser.hit(userId), await limit.perAddress.hit(ip));
  if (wait === 0) return;
  onLimited?.(limit.name);
  throw rateLimited(`${limit.name} requests`, wait);
}

export function closeLimit(limit: ActionLimit): void {
  limit.perUser.close();
  limit.perAddress.close();
}
