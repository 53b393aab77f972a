/**
 * One attempt at one delivery, called by the delivery queue's worker. The attempt is logged on the delivery's
 * row (attempts, last status code or error); a failure throws so the queue tries again later, until the last
 * attempt, which marks the delivery failed. A webhook whose deliveries fail every attempt WEBHOOKS_DISABLE_AFTER
 * times in a row is disabled, and its owner told (a `webhook.disabled` message on their WebSocket, the reason
 * on the webhook itself, and a warning in the log); any success resets the count.
 */
import { sql } from 'kysely';
import type { Config } from '../config.js';
import { notify } from '../db/listener.js';
import type { Db } from '../db/schema.js';
import type { Logger } from '../log.js';
import { postOnce, type AttemptResult } from './post.js';
import { signedHeaders } from './signing.js';
import { parseWebhookUrl, resolveTarget } from './ssrf.js';

/** NOTIFY channel of messages for one user's sockets on every server: `{userId, message}`. */
export const USER_EVENTS_CHANNEL = 'lookout_user_events';

export interface UserNotice {
  userId: string;
  message: Record<string, unknown>;
}

export interface DeliverDeps {
  readonly db: Db;
  readonly config: Config;
  readonly logger: Logger;
}

class RetryLater extends Error {}

async function attempt(config: Config, url: string, secret: string, id: string, body: string): Promise<AttemptResult> {
  try {
    const target = await resolveTarget(parseWebhookUrl(url), config.webhooks.allowPrivate);
    return await postOnce(target, signedHeaders(secret, id, new Date(), body), body, config.webhooks.timeoutMs);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

export async function deliver(deps: DeliverDeps, deliveryId: string, info: { lastAttempt: boolean }): Promise<void> {
  const { db, config, logger } = deps;
  const row = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
    .select(['d.id', 'd.status', 'd.payload', 'd.event', 'w.id as webhookId', 'w.user_id as userId', 'w.url', 'w.secret', 'w.disabled_at as disabledAt'])
    .where('d.id', '=', deliveryId)
    .executeTakeFirst();
  if (!row || row.status !== 'pending') return; // the webhook was removed, or a retry already delivered it
  if (row.disabledAt) {
    await db.updateTable('webhook_deliveries').set({ status: 'failed', last_error: 'The webhook is disabled.' }).where('id', '=', deliveryId).execute();
    return;
  }
  const result = await attempt(config, row.url, row.secret, row.id, row.payload);
  const failedForGood = !result.ok && info.lastAttempt;
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('webhook_deliveries')
      .set({
        attempts: sql<number>`attempts + 1`,
        last_status_code: result.statusCode ?? null,
        last_error: result.ok ? null : (result.error ?? 'failed').slice(0, 500),
        last_attempt_at: sql<Date>`now()`,
        status: result.ok ? 'delivered' : failedForGood ? 'failed' : 'pending',
      })
      .where('id', '=', deliveryId)
      .execute();
    if (result.ok) {
      await tx.updateTable('webhooks').set({ failed_deliveries: 0 }).where('id', '=', row.webhookId).where('failed_deliveries', '>', 0).execute();
      return;
    }
    if (!failedForGood) return;
    const hook = await tx
      .updateTable('webhooks')
      .set({ failed_deliveries: sql<number>`failed_deliveries + 1` })
      .where('id', '=', row.webhookId)
      .returning(['failed_deliveries', 'disabled_at'])
      .executeTakeFirst();
    if (!hook || hook.disabled_at || hook.failed_deliveries < config.webhooks.disableAfter) return;
    const reason = `Disabled after ${hook.failed_deliveries} deliveries in a row failed every attempt (last: ${result.error ?? 'failed'}).`;
    await tx.updateTable('webhooks').set({ disabled_at: sql<Date>`now()`, disabled_reason: reason.slice(0, 500) }).where('id', '=', row.webhookId).execute();
    const notice: UserNotice = { userId: row.userId, message: { type: 'webhook.disabled', webhookId: row.webhookId, url: row.url, reason } };
    await notify(tx, USER_EVENTS_CHANNEL, notice);
    logger.warn({ webhookId: row.webhookId, userId: row.userId, url: row.url }, 'webhook disabled after sustained failure; its owner was told');
  });
  if (!result.ok && !info.lastAttempt) throw new RetryLater(result.error ?? 'failed');
}
