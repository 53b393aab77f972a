import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

/**
 * Webhooks with their delivery log, the "balance is low" mark per user, and the detections of live sessions
 * (one row per processed frame, written in batches).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('webhooks')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('events', sql`text[]`, (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('failed_deliveries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disabled_at', 'timestamptz')
    .addColumn('disabled_reason', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('webhooks_user_idx').on('webhooks').columns(['user_id', 'created_at']).execute();
  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('webhook_id', 'uuid', (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('last_attempt_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('webhook_deliveries_webhook_idx').on('webhook_deliveries').columns(['webhook_id', 'created_at']).execute();
  await db.schema.alterTable('users').addColumn('balance_low_sent', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
  await db.schema
    .createTable('live_detections')
    .addColumn('session_id', 'uuid', (c) => c.notNull().references('live_sessions.id').onDelete('cascade'))
    .addColumn('frame', 'integer', (c) => c.notNull())
    .addColumn('t_ms', 'double precision', (c) => c.notNull())
    .addColumn('rtp_timestamp', 'bigint', (c) => c.notNull())
    .addColumn('objects', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('live_detections_pk', ['session_id', 'frame'])
    .execute();
  await db.schema.alterTable('live_sessions').addColumn('stores_detections', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('live_sessions').dropColumn('stores_detections').execute();
  await db.schema.dropTable('live_detections').execute();
  await db.schema.alterTable('users').dropColumn('balance_low_sent').execute();
  await db.schema.dropTable('webhook_deliveries').execute();
  await db.schema.dropTable('webhooks').execute();
}
