/**
 * Emitting an event: one delivery row per enabled webhook of the user that subscribes to it, each with its
 * own `msg_…` id (the webhook-id header on every attempt), then one queue entry per row. Emitting never throws
 * and never blocks its caller; what is still being written is awaited at shutdown (`flush`).
 */
import { sql } from 'kysely';
import type { Db } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DeliveryQueue } from './delivery-queue.js';
import { getWebhook, subscribers } from './repo.js';
import { newMessageId } from './signing.js';
import type { EventSink, EventType } from './types.js';

export class WebhookEvents implements EventSink {
  readonly #db: Db;
  readonly #queue: DeliveryQueue;
  readonly #logger: Logger;
  readonly #pending = new Set<Promise<void>>();

  constructor(deps: { db: Db; queue: DeliveryQueue; logger: Logger }) {
    this.#db = deps.db;
    this.#queue = deps.queue;
    this.#logger = deps.logger;
  }

  emit(userId: string, type: EventType, data: Record<string, unknown>): void {
    const p = this.#emit(userId, type, data).catch((err: unknown) => this.#logger.error({ err, userId, type }, 'webhooks: emitting an event failed'));
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  async #emit(userId: string, type: EventType, data: Record<string, unknown>): Promise<void> {
    const hooks = await subscribers(this.#db, userId, type);
    if (hooks.length === 0) return;
    const payload = JSON.stringify({ type, timestamp: new Date().toISOString(), data });
    const rows = hooks.map((h) => ({ id: newMessageId(), webhook_id: h.id, event: type, payload }));
    await this.#db.insertInto('webhook_deliveries').values(rows).execute();
    for (const r of rows) await this.#enqueue(r.id);
  }

  async #enqueue(deliveryId: string): Promise<void> {
    try {
      await this.#queue.add(deliveryId);
    } catch (err) {
      const message = `The delivery queue is unavailable (${err instanceof Error ? err.message : String(err)}); retry it by hand.`;
      await this.#db.updateTable('webhook_deliveries').set({ status: 'failed', last_error: message.slice(0, 500) }).where('id', '=', deliveryId).execute();
      throw err;
    }
  }

  /** Sends a finished delivery again (a new round of attempts, same webhook-id). CONFLICT while one is under way. */
  async retry(userId: string, webhookId: string | undefined, deliveryId: string | undefined): Promise<void> {
    const hook = await getWebhook(this.#db, userId, webhookId);
    if (hook.disabled_at) throw new AppError('CONFLICT', 'The webhook is disabled: turn it on again first (PATCH /webhooks/{id} {"enabled": true}).');
    const again = await this.#db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', last_error: null })
      .where('id', '=', deliveryId ?? '')
      .where('webhook_id', '=', hook.id)
      .where('status', '!=', 'pending')
      .returning('id')
      .executeTakeFirst();
    if (!again) {
      const exists = await this.#db.selectFrom('webhook_deliveries').select('id').where('id', '=', deliveryId ?? '').where('webhook_id', '=', hook.id).executeTakeFirst();
      throw exists ? new AppError('CONFLICT', 'This delivery is still being attempted.') : new AppError('NOT_FOUND', 'Delivery not found.');
    }
    try {
      await this.#enqueue(again.id);
    } catch (err) {
      throw new AppError('UNAVAILABLE', `The delivery queue is unavailable: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Waits for events still being written (shutdown). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}

/**
 * balance.low: sent once when a balance falls below the threshold, and again only after it has been back at or
 * above it (users.balance_low_sent remembers, so every server and worker agrees).
 */
export async function balanceChanged(db: Db, sink: EventSink, thresholdMilli: number, userId: string, balanceMilli: number): Promise<void> {
  if (thresholdMilli <= 0) return;
  const low = balanceMilli < thresholdMilli;
  const flipped = await db
    .updateTable('users')
    .set({ balance_low_sent: low })
    .where('id', '=', userId)
    .where('balance_low_sent', '=', !low)
    .where(sql<boolean>`(balance_milli < ${thresholdMilli}) = ${low}`)
    .returning('balance_milli')
    .executeTakeFirst();
  if (flipped && low) sink.emit(userId, 'balance.low', { balance: flipped.balance_milli / 1000, threshold: thresholdMilli / 1000 });
}
