/**
 * Where BullMQ queues live: PostgreSQL (BullMQ's Postgres backend, in the app's own database) unless REDIS_URL
 * is set. The backend is chosen process-wide (`setDefaultBackendFactory`): BullMQ opens extra connections
 * internally from the default factory, so a per-queue factory alone would reach for Redis. The job queue and
 * the webhook delivery queue share it.
 */
import { createPostgresBackend, setDefaultBackendFactory } from 'bullmq';
import type { Config } from '../config.js';

export type QueueKind = 'postgres' | 'redis';

/** Connection options for ioredis from a redis:// or rediss:// URL (BullMQ takes options, not URLs). */
export function redisOptions(url: string): Record<string, unknown> {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null, // BullMQ workers require it
  };
}

export function queueConnection(config: Config, databaseUrl: string): { kind: QueueKind; connection: never } {
  if (config.redisUrl) {
    setDefaultBackendFactory();
    return { kind: 'redis', connection: redisOptions(config.redisUrl) as never };
  }
  setDefaultBackendFactory(createPostgresBackend);
  return { kind: 'postgres', connection: { connectionString: databaseUrl, migrate: true } as never };
}

/**
 * Closes a BullMQ queue or worker, but never waits more than `ms`: with its store unreachable, BullMQ's close
 * waits for a connection that never comes. Past the bound the connection is dropped.
 */
export async function closeWithin(q: { close(): Promise<void>; disconnect(): Promise<void> }, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    q.close().then(() => true, () => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  if (!closed) void q.disconnect().catch(() => undefined);
  return closed;
}

