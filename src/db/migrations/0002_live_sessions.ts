import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('live_sessions')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('via', 'text', (c) => c.notNull().check(sql`via in ('ws', 'whip')`))
    .addColumn('codec', 'text')
    .addColumn('width', 'integer')
    .addColumn('height', 'integer')
    .addColumn('budget_ms', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('live').check(sql`state in ('live', 'ended')`))
    .addColumn('end_reason', 'text', (c) =>
      c.check(sql`end_reason is null or end_reason in ('stopped', 'disconnected', 'insufficient_tokens', 'error')`),
    )
    .addColumn('frames_in', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('frames_processed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('frames_dropped', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('dropped_stale', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('dropped_late', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('latency_p50_ms', 'real')
    .addColumn('latency_p95_ms', 'real')
    .addColumn('latency_p99_ms', 'real')
    .addColumn('tokens_charged_milli', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('recording_path', 'text')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('ended_at', 'timestamptz')
    // Touched every second while live: a row left 'live' with an old heartbeat belongs to a dead process.
    .addColumn('heartbeat_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('live_sessions_user_idx').on('live_sessions').columns(['user_id', 'started_at desc']).execute();
  await db.schema.createIndex('live_sessions_live_idx').on('live_sessions').column('state').where(sql.ref('state'), '=', 'live').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('live_sessions').execute();
}
