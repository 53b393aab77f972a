/**
 * Live-session places counted by every server together, in Redis sets: one per user, one for the whole
 * cluster, and one per node (what to give back when that node is lost or restarts). A start adds its slot to
 * the sets and reads their sizes in one MULTI; over a limit, it takes the slot back out and is refused. Two
 * starts racing for the last place may both be refused, never both admitted.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisUnavailable } from './bus.js';
import { totalLimitReached, userLimitReached, type SessionSlots, type Slot } from '../live/slots.js';

export class RedisSlots implements SessionSlots {
  constructor(
    private readonly redis: Redis,
    private readonly ns: string,
    private readonly nodeId: string,
    private readonly perUser: number,
    /** LIVE_MAX_SESSIONS_TOTAL; 0: no cluster-wide limit. */
    private readonly total: number,
  ) {}

  #userKey(userId: string): string {
    return `${this.ns}:slots:user:${userId}`;
  }

  #allKey(): string {
    return `${this.ns}:slots:all`;
  }

  #nodeKey(nodeId: string): string {
    return `${this.ns}:slots:node:${nodeId}`;
  }

  async acquire(userId: string): Promise<Slot> {
    const slot = randomUUID();
    const member = `${userId}|${slot}`;
    const r = await this.redis
      .multi()
      .sadd(this.#userKey(userId), slot)
      .sadd(this.#allKey(), slot)
      .sadd(this.#nodeKey(this.nodeId), member)
      .scard(this.#userKey(userId))
      .scard(this.#allKey())
      .exec()
      .catch((err: unknown) => {
        throw redisUnavailable(err);
      });
    const count = (i: number): number => Number(r?.[i]?.[1] ?? 0);
    const release = (): Promise<void> => this.#release(this.nodeId, [member]);
    if (count(3) > this.perUser) {
      await release();
      throw userLimitReached(this.perUser);
    }
    if (this.total > 0 && count(4) > this.total) {
      await release();
      throw totalLimitReached(this.total);
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        await release();
      },
    };
  }

  /** Gives back every slot `nodeId` held (it was lost, or it is this node starting again under the same id). */
  async releaseNode(nodeId: string): Promise<number> {
    const members = await this.redis.smembers(this.#nodeKey(nodeId));
    await this.#release(nodeId, members);
    return members.length;
  }

  async #release(nodeId: string, members: readonly string[]): Promise<void> {
    if (members.length === 0) return;
    const m = this.redis.multi();
    for (const member of members) {
      const [userId, slot] = member.split('|') as [string, string];
      m.srem(this.#userKey(userId), slot).srem(this.#allKey(), slot);
    }
    m.srem(this.#nodeKey(nodeId), ...members);
    await m.exec();
  }
}
