/**
 * Webhook subscriptions and their delivery log. A user has at most MAX_WEBHOOKS; the count is checked under a
 * lock on the user's row, so two requests at once cannot both pass it.
 */
import { sql } from 'kysely';
import type { DbOrTx, DeliveryRow, WebhookRow, Db } from '../db/schema.js';
import { AppError } from '../errors.js';
import { newSecret } from './signing.js';
import { EVENT_TYPES, isEventType, type EventType } from './types.js';

const isUuid = (id: string): boolean => /^[0-9a-f-]{36}$/i.test(id);

export const MAX_WEBHOOKS = 20;
export const MAX_DESCRIPTION = 500;
/** Deliveries listed per webhook (newest first). */
export const DELIVERIES_SHOWN = 100;

export interface PublicWebhook {
  id: string;
  url: string;
  events: string[];
  description?: string;
  createdAt: string;
  enabled: boolean;
  disabledAt?: string;
  disabledReason?: string;
}

export interface PublicDelivery {
  id: string;
  event: string;
  status: DeliveryRow['status'];
  attempts: number;
  lastStatusCode?: number;
  lastError?: string;
  lastAttemptAt?: string;
  createdAt: string;
}

export function toPublicWebhook(w: WebhookRow): PublicWebhook {
  return {
    id: w.id,
    url: w.url,
    events: w.events,
    ...(w.description ? { description: w.description } : {}),
    createdAt: w.created_at.toISOString(),
    enabled: w.disabled_at === null,
    ...(w.disabled_at ? { disabledAt: w.disabled_at.toISOString() } : {}),
    ...(w.disabled_reason ? { disabledReason: w.disabled_reason } : {}),
  };
}

export function toPublicDelivery(d: DeliveryRow): PublicDelivery {
  return {
    id: d.id,
    event: d.event,
    status: d.status,
    attempts: d.attempts,
    ...(d.last_status_code !== null ? { lastStatusCode: d.last_status_code } : {}),
    ...(d.last_error ? { lastError: d.last_error } : {}),
    ...(d.last_attempt_at ? { lastAttemptAt: d.last_attempt_at.toISOString() } : {}),
    createdAt: d.created_at.toISOString(),
  };
}

/** The `events` field: a non-empty list of known event names, each once. */
export function parseEvents(raw: unknown): EventType[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new AppError('VALIDATION_FAILED', `events must be a non-empty list of: ${EVENT_TYPES.join(', ')}.`);
  if (raw.length > EVENT_TYPES.length * 2) throw new AppError('VALIDATION_FAILED', `events lists ${raw.length} names; there are ${EVENT_TYPES.length} events.`);
  for (const e of raw) {
    if (!isEventType(e)) throw new AppError('VALIDATION_FAILED', `Unknown event ${JSON.stringify(e).slice(0, 60)}: events are ${EVENT_TYPES.join(', ')}.`);
  }
  return [...new Set(raw as EventType[])];
}

export async function createWebhook(db: Db, w: { userId: string; url: string; events: EventType[]; description: string | null }): Promise<{ webhook: WebhookRow; secret: string }> {
  return db.transaction().execute(async (tx) => {
    await tx.selectFrom('users').select('id').where('id', '=', w.userId).forUpdate().executeTakeFirst();
    const { n } = await tx.selectFrom('webhooks').select((eb) => eb.fn.countAll<string>().as('n')).where('user_id', '=', w.userId).executeTakeFirstOrThrow();
    if (Number(n) >= MAX_WEBHOOKS) throw new AppError('VALIDATION_FAILED', `You have ${MAX_WEBHOOKS} webhooks, the most allowed: remove one first.`);
    const secret = newSecret();
    const webhook = await tx
      .insertInto('webhooks')
      .values({ user_id: w.userId, url: w.url, events: w.events, description: w.description, secret })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { webhook, secret };
  });
}

export async function listWebhooks(db: DbOrTx, userId: string): Promise<WebhookRow[]> {
  return db.selectFrom('webhooks').selectAll().where('user_id', '=', userId).orderBy('created_at', 'desc').orderBy('id').execute();
}

/** The user's webhook, or NOT_FOUND (someone else's too). */
export async function getWebhook(db: DbOrTx, userId: string, id: string | undefined): Promise<WebhookRow> {
  const row = id && isUuid(id) ? await db.selectFrom('webhooks').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst() : undefined;
  if (!row) throw new AppError('NOT_FOUND', 'Webhook not found.');
  return row;
}

export async function deleteWebhook(db: DbOrTx, userId: string, id: string | undefined): Promise<void> {
  const row = await getWebhook(db, userId, id);
  await db.deleteFrom('webhooks').where('id', '=', row.id).execute();
}

/** Turns a webhook on again (clearing its failure count) or off by hand. */
export async function setEnabled(db: DbOrTx, userId: string, id: string | undefined, enabled: boolean): Promise<WebhookRow> {
  const row = await getWebhook(db, userId, id);
  return db
    .updateTable('webhooks')
    .set(enabled ? { disabled_at: null, disabled_reason: null, failed_deliveries: 0 } : { disabled_at: sql<Date>`now()`, disabled_reason: 'Turned off by its owner.' })
    .where('id', '=', row.id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listDeliveries(db: DbOrTx, webhookId: string): Promise<DeliveryRow[]> {
  return db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(DELIVERIES_SHOWN).execute();
}

/** Enabled webhooks of `userId` that subscribe to `type`. */
export async function subscribers(db: DbOrTx, userId: string, type: EventType): Promise<{ id: string }[]> {
  return db
    .selectFrom('webhooks')
    .select('id')
    .where('user_id', '=', userId)
    .where('disabled_at', 'is', null)
    .where(sql<boolean>`${type} = any(events)`)
    .execute();
}
