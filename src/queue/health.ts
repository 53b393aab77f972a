import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { OpenDatabase } from '../db/connect.js';
import type { HealthCheck } from '../http/deps.js';

/**
 * The job queue's backing store: PostgreSQL by default (BullMQ's Postgres backend, same database),
 * Redis when REDIS_URL is set.
 */
export async function checkQueue(config: Config, database: OpenDatabase): Promise<HealthCheck> {
  if (!config.redisUrl) return { ok: await database.ping(), backend: 'postgres' };
  const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, enableOfflineQueue: false });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return { ok: (await redis.ping()) === 'PONG', backend: 'redis' };
  } catch (err) {
    return { ok: false, backend: 'redis', error: err instanceof Error ? err.message : String(err) };
  } finally {
    redis.disconnect();
  }
}
