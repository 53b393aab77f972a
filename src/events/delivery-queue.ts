/**
 * The webhook delivery queue (BullMQ, beside the job queue on the same backend). An entry carries only the
 * delivery id; the row holds the body and the log. Failed attempts come back after an exponential delay with
 * jitter: base × 4^(n-1) × [0.75, 1.25), ATTEMPTS in all. With the default 5 s base that is about 5 s, 20 s,
 * 80 s, 5 min, 21 min and 85 min: the seventh attempt comes at least 85 minutes after the first.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Config } from '../config.js';
import { closeWithin, queueConnection } from '../queue/connection.js';

export const ATTEMPTS = 7;

interface DeliveryData {
  deliveryId: string;
}

/** The wait before attempt `attemptsMade + 1` (attemptsMade ≥ 1). */
export function retryDelayMs(attemptsMade: number, baseMs: number, random: () => number = Math.random): number {
  return Math.round(baseMs * 4 ** (attemptsMade - 1) * (0.75 + 0.5 * random()));
}

const queueName = (config: Config): string => `${config.jobs.queueName}-webhooks`;

export class DeliveryQueue {
  readonly #queue: Queue<DeliveryData>;

  constructor(config: Config, databaseUrl: string, onError: (err: Error) => void) {
    this.#queue = new Queue<DeliveryData>(queueName(config), {
      connection: queueConnection(config, databaseUrl).connection,
      defaultJobOptions: { attempts: ATTEMPTS, backoff: { type: 'jitter' }, removeOnComplete: true, removeOnFail: true },
    });
    this.#queue.on('error', onError);
  }

  async add(deliveryId: string): Promise<void> {
    await this.#queue.add('deliver', { deliveryId });
  }

  async close(): Promise<void> {
    await closeWithin(this.#queue, 3000);
  }
}

export function startDeliveryWorker(
  config: Config,
  databaseUrl: string,
  deliver: (deliveryId: string, info: { attempt: number; lastAttempt: boolean }) => Promise<void>,
  onError: (err: Error) => void,
): Worker<DeliveryData> {
  const base = config.webhooks.retryBaseMs;
  const worker = new Worker<DeliveryData>(
    queueName(config),
    async (job: Job<DeliveryData>) => {
      const attempts = job.opts.attempts ?? 1;
      await deliver(job.data.deliveryId, { attempt: job.attemptsMade + 1, lastAttempt: job.attemptsMade + 1 >= attempts });
    },
    {
      connection: queueConnection(config, databaseUrl).connection,
      concurrency: config.webhooks.concurrency,
      // An attempt takes at most 5 s (plus a DNS lookup): a lock of 30 s is never renewed in vain.
      lockDuration: 30_000,
      settings: { backoffStrategy: (attemptsMade: number) => retryDelayMs(attemptsMade, base) },
    },
  );
  worker.on('error', onError);
  return worker;
}
