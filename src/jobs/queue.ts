/**
 * The BullMQ queue of batch jobs. PostgreSQL (BullMQ's Postgres backend, in the app's own database) unless
 * REDIS_URL is set. The backend is chosen process-wide (`setDefaultBackendFactory`): BullMQ opens extra
 * connections internally from the default factory, so a per-queue factory alone would reach for Redis.
 *
 * Queue entries carry only our job id; the database row is the truth. The BullMQ job id is our job id, so
 * enqueueing twice is harmless.
 */
import { createPostgresBackend, Queue, setDefaultBackendFactory, Worker, type Job } from 'bullmq';
import type { Config } from '../config.js';

export interface QueueData {
  jobId: string;
}

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

function connection(config: Config, databaseUrl: string): { kind: QueueKind; connection: never } {
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

export class JobQueue {
  readonly kind: QueueKind;
  readonly #queue: Queue<QueueData>;

  constructor(config: Config, databaseUrl: string, onError: (err: Error) => void) {
    const c = connection(config, databaseUrl);
    this.kind = c.kind;
    this.#queue = new Queue<QueueData>(config.jobs.queueName, {
      connection: c.connection,
      defaultJobOptions: {
        attempts: 3,
        backoff: { type: 'exponential', delay: 2000 },
        removeOnComplete: true,
        removeOnFail: 1000,
      },
    });
    this.#queue.on('error', onError);
  }

  async add(jobId: string): Promise<void> {
    await this.#queue.add('detect', { jobId }, { jobId });
  }

  /** Takes a job out of the queue if no worker holds it (a cancelled queued job); false otherwise. */
  async remove(jobId: string): Promise<boolean> {
    try {
      return (await this.#queue.remove(jobId)) === 1;
    } catch {
      return false; // locked by a worker: it sees the cancellation itself
    }
  }

  /** Entries by queue state: waiting, active, delayed, prioritized (for metrics). */
  async counts(): Promise<Record<string, number>> {
    return this.#queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
  }

  async close(): Promise<void> {
    await closeWithin(this.#queue, 3000);
  }
}

export interface WorkerOptions {
  concurrency: number;
  lockMs: number;
}

/** A BullMQ worker calling `process(jobId, attempt, lastAttempt)` for each queue entry. */
export function startQueueWorker(
  config: Config,
  databaseUrl: string,
  process: (jobId: string, info: { attempt: number; lastAttempt: boolean }) => Promise<void>,
  onError: (err: Error) => void,
): Worker<QueueData> {
  const c = connection(config, databaseUrl);
  const worker = new Worker<QueueData>(
    config.jobs.queueName,
    async (job: Job<QueueData>) => {
      const attempts = job.opts.attempts ?? 1;
      await process(job.data.jobId, { attempt: job.attemptsMade + 1, lastAttempt: job.attemptsMade + 1 >= attempts });
    },
    {
      connection: c.connection,
      concurrency: config.jobs.concurrency,
      lockDuration: config.jobs.lockMs,
      stalledInterval: config.jobs.lockMs,
      // A worker that dies (SIGKILL, OOM) leaves its job stalled; hand it to another worker up to 5 times.
      maxStalledCount: 5,
    },
  );
  worker.on('error', onError);
  return worker;
}
