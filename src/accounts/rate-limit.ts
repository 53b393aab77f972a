/**
 * Rate limits: fixed windows per key, counted by rate-limiter-flexible (a maintained limiter). In memory, one
 * process keeps its own counts; with a Redis store (several servers, REDIS_URL) every server counts into the
 * same keys, so N servers allow the limit once, not N times. Should Redis fail, an in-memory limiter of the
 * same size stands in (the library's insurance limiter): limits loosen to per-process rather than letting
 * every request through or refusing them all.
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../errors.js';

const waitS = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

/** Where a limiter counts when it is shared by several servers: a Redis client and this limiter's key prefix. */
export interface SharedStore {
  readonly redis: Redis;
  readonly keyPrefix: string;
}

export class RateLimiter {
  readonly #rl: RateLimiterAbstract;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    shared?: SharedStore,
  ) {
    const opts = { points: limit, duration: windowMs / 1000 };
    this.#rl = shared
      ? new RateLimiterRedis({ ...opts, storeClient: shared.redis, keyPrefix: shared.keyPrefix, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(opts) })
      : new RateLimiterMemory(opts);
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

/** `shared(part)`: the Redis store for one of its two limiters, when servers share their counts. */
export function actionLimit(name: string, perUserPerMinute: number, perAddressPerMinute: number, shared?: (part: string) => SharedStore): ActionLimit {
  return {
    name,
    perUser: new RateLimiter(perUserPerMinute, 60_000, shared?.(`${name}:user`)),
    perAddress: new RateLimiter(perAddressPerMinute, 60_000, shared?.(`${name}:address`)),
  };
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
