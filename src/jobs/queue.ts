/**
 * The BullMQ queue of batch jobs (on PostgreSQL or Redis: queue/connection.ts).
 *
 * Queue entries carry only our job id; the database row is the truth. The BullMQ job id is our job id, so
 * enqueueing twice is harmless.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Config } from '../config.js';
import { closeWithin, queueConnection as connection, type QueueKind } from '../queue/connection.js';

export { closeWithin };

export interface QueueData {
  jobId: string;
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
