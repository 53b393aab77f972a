/**
 * Which servers are up: each writes a heartbeat key with a TTL every HEARTBEAT_MS (what it runs, how loaded it
 * is, where clients reach it) and is listed in a sorted set of members. A member whose key has expired has
 * stopped beating: the first server to see that (and win a SET NX on the takeover key) hands it to `onLost`
 * and removes it from the set. Nothing else: no votes, no leader; Redis's key expiry is the clock.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';

export const HEARTBEAT_MS = 2000;
/** A server whose heartbeat is older than this is lost (noticed within TTL + CHECK_MS: 13 s). */
export const HEARTBEAT_TTL_MS = 10_000;
export const CHECK_MS = 3000;

export interface NodeInfo {
  readonly id: string;
  /** Where clients reach it (PUBLIC_URL); placement sends clients there. */
  readonly url: string | null;
  readonly liveSessions: number;
  readonly maxSessions: number;
  /** Event-loop utilisation over the last heartbeat interval, 0 to 1. */
  readonly load: number;
  readonly draining: boolean;
}

export class NodeRegistry {
  readonly #members: string;
  #beat: NodeJS.Timeout | undefined;
  #check: NodeJS.Timeout | undefined;
  #elu = performance.eventLoopUtilization();
  #stopped = false;

  constructor(
    private readonly redis: Redis,
    private readonly ns: string,
    private readonly self: () => Omit<NodeInfo, 'load'>,
    private readonly onLost: (nodeId: string) => Promise<void>,
    private readonly logger: Logger,
  ) {
    this.#members = `${ns}:nodes`;
  }

  #key(id: string): string {
    return `${this.ns}:node:${id}`;
  }

  async start(): Promise<void> {
    await this.beat();
    this.#beat = setInterval(() => void this.beat().catch((err: unknown) => this.logger.warn({ err }, 'cluster: heartbeat failed')), HEARTBEAT_MS);
    this.#check = setInterval(() => void this.checkLost(), CHECK_MS);
    this.#beat.unref();
    this.#check.unref();
  }

  /** Writes this node's heartbeat now (also when its state changed, e.g. it started draining). */
  async beat(): Promise<void> {
    if (this.#stopped) return;
    const elu = performance.eventLoopUtilization(this.#elu);
    this.#elu = performance.eventLoopUtilization();
    const info: NodeInfo = { ...this.self(), load: Math.round(elu.utilization * 1000) / 1000 };
    await this.redis.multi().set(this.#key(info.id), JSON.stringify(info), 'PX', HEARTBEAT_TTL_MS).zadd(this.#members, Date.now(), info.id).exec();
  }

  /** The servers with a live heartbeat, this one included. */
  async nodes(): Promise<NodeInfo[]> {
    const ids = await this.redis.zrange(this.#members, '0', '-1');
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => this.#key(id)));
    return values.flatMap((v) => (v ? [JSON.parse(v) as NodeInfo] : []));
  }

  /** Finds members whose heartbeat expired and takes over each one (once across the cluster). */
  async checkLost(): Promise<string[]> {
    const taken: string[] = [];
    try {
      const ids = await this.redis.zrange(this.#members, '0', '-1');
      const me = this.self().id;
      const others = ids.filter((id) => id !== me);
      if (others.length === 0) return taken;
      const values = await this.redis.mget(others.map((id) => this.#key(id)));
      for (const [i, id] of others.entries()) {
        if (values[i] !== null || this.#stopped) continue;
        const lock = `${this.ns}:takeover:${id}`;
        if ((await this.redis.set(lock, me, 'PX', 60_000, 'NX')) !== 'OK') continue;
        try {
          this.logger.warn({ node: id }, 'cluster: a server stopped sending heartbeats; ending its live sessions');
          await this.onLost(id);
          // Gone unless it came back meanwhile (a slow server beats again; its sessions were ended all the same).
          if ((await this.redis.exists(this.#key(id))) === 0) await this.redis.zrem(this.#members, id);
          taken.push(id);
        } catch (err) {
          this.logger.error({ err, node: id }, 'cluster: taking over a lost server failed; trying again');
        } finally {
          await this.redis.del(lock);
        }
      }
    } catch (err) {
      this.logger.warn({ err }, 'cluster: checking for lost servers failed');
    }
    return taken;
  }

  /** Leaves the cluster (a clean shutdown): the others need not wait for the heartbeat to expire. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#beat);
    clearInterval(this.#check);
    const id = this.self().id;
    await this.redis.multi().del(this.#key(id)).zrem(this.#members, id).exec().catch(() => undefined);
  }
}
