/**
 * A job worker: a BullMQ worker that runs `processJob` for each queue entry. The server starts one inside
 * itself by default (JOBS_INLINE_WORKER); `npm run worker` (src/worker-main.ts) runs one as its own process.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/schema.js';
import type { DetectionEngine } from '../inference/index.js';
import type { EventSink } from '../events/types.js';
import type { Metrics } from '../metrics.js';
import type { Logger } from '../log.js';
import { processJob } from './processor.js';
import { closeWithin, startQueueWorker } from './queue.js';

export interface JobWorker {
  /** Stops taking jobs; waits up to `graceMs` for the ones running, then leaves them to the queue's stall handling. */
  close(graceMs: number): Promise<void>;
}

export function startJobWorker(deps: { config: Config; db: Db; engine: DetectionEngine; logger: Logger; databaseUrl: string; metrics?: Metrics; events?: EventSink }): JobWorker {
  const { config, logger } = deps;
  let lastError = 0;
  const worker = startQueueWorker(
    config,
    deps.databaseUrl,
    async (jobId, info) => {
      const started = performance.now();
      logger.info({ jobId, attempt: info.attempt }, 'job started');
      await processJob(deps, jobId, info);
      logger.info({ jobId, ms: Math.round(performance.now() - started) }, 'job finished');
    },
    (err) => {
      // An unreachable store errors on every retry: log one a minute.
      if (Date.now() - lastError < 60_000) return;
      lastError = Date.now();
      logger.error({ err: err.message }, 'job worker error');
    },
  );
  logger.info({ queue: config.jobs.queueName, concurrency: config.jobs.concurrency, backend: config.redisUrl ? 'redis' : 'postgres' }, 'job worker started');
  let closing: Promise<void> | undefined;
  return {
    close: (graceMs) =>
      (closing ??= (async () => {
        if (!(await closeWithin(worker, graceMs))) {
          logger.warn({ graceMs }, 'a job was still running at shutdown (or the queue store is unreachable); the queue hands it to another worker');
        }
      })()),
  };
}
