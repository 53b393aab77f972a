/** Tests that run several Lookout servers as processes on the machine's PostgreSQL and Redis, as one cluster. */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { ProcessFixture } from './process-fixture.js';

export const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A queue name of the test's own: servers sharing it (and Redis) are one cluster, apart from other tests'. */
export const clusterName = (prefix: string): string => `lookout-${prefix}-${randomBytes(4).toString('hex')}`;

/** What every server of the cluster shares: database, Redis, queue, data and recordings folders; `extra` on top. */
export function clusterEnv(f: ProcessFixture, queue: string, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    DATABASE_URL: f.database.url,
    REDIS_URL,
    JOBS_QUEUE: queue,
    DATA_DIR: path.join(f.tmp, 'data'),
    RECORDINGS_DIR: path.join(f.tmp, 'recordings'),
    INITIAL_TOKENS: '1000',
    TRUST_PROXY: 'true',
    FFMPEG_PATH: process.env['FFMPEG_PATH'],
    ...extra,
  };
}

/** Removes the cluster's keys (its queue's and its own) from Redis. */
export async function removeClusterKeys(queue: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  for (const pattern of [`bull:${queue}:*`, `lookout:cluster:${queue}:*`]) {
    const keys = await redis.keys(pattern);
    if (keys.length) await redis.del(...keys);
  }
  redis.disconnect();
}
