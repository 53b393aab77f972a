/**
 * Webhooks for one process: the delivery queue (producer), the emitter live sessions, jobs and the ledger send
 * events into, and, where `deliver` is set, a worker that makes the deliveries.
 */
import type { Worker } from 'bullmq';
import type { Config } from '../config.js';
import type { Db } from '../db/schema.js';
import type { Logger } from '../log.js';
import { closeWithin } from '../queue/connection.js';
import { onBalanceChange } from '../tokens/ledger.js';
import { deliver } from './deliver.js';
import { DeliveryQueue, startDeliveryWorker } from './delivery-queue.js';
import { balanceChanged, WebhookEvents } from './webhooks.js';

export interface Events {
  readonly webhooks: WebhookEvents;
  close(graceMs: number): Promise<void>;
}

export function startEvents(deps: { config: Config; db: Db; logger: Logger; databaseUrl: string; deliver: boolean }): Events {
  const { config, db, logger } = deps;
  let lastError = 0;
  const onError = (err: Error): void => {
    if (Date.now() - lastError < 60_000) return; // an unreachable store errors on every retry: one a minute
    lastError = Date.now();
    logger.error({ err: err.message }, 'webhook delivery queue error');
  };
  const queue = new DeliveryQueue(config, deps.databaseUrl, onError);
  const webhooks = new WebhookEvents({ db, queue, logger });
  const stopBalance = onBalanceChange((userId, milli) => {
    balanceChanged(db, webhooks, config.balanceLowMilli, userId, milli).catch((err: unknown) => logger.error({ err, userId }, 'webhooks: balance.low check failed'));
  });
  let worker: Worker | undefined;
  if (deps.deliver) {
    worker = startDeliveryWorker(config, deps.databaseUrl, (id, info) => deliver({ db, config, logger }, id, info), onError);
  }
  let closing: Promise<void> | undefined;
  return {
    webhooks,
    close: (graceMs) =>
      (closing ??= (async () => {
        stopBalance();
        await webhooks.flush();
        if (worker) await closeWithin(worker, Math.max(graceMs, 1000));
        await queue.close();
      })()),
  };
}
