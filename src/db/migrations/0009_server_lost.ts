import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

/** Several servers: a live session whose server stopped sending heartbeats ends as `server_lost`. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table live_sessions drop constraint if exists live_sessions_end_reason_check`.execute(db);
  await sql`alter table live_sessions add constraint live_sessions_end_reason_check
    check (end_reason is null or end_reason in ('stopped', 'disconnected', 'insufficient_tokens', 'error', 'server_lost'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`update live_sessions set end_reason = 'error' where end_reason = 'server_lost'`.execute(db);
  await sql`alter table live_sessions drop constraint if exists live_sessions_end_reason_check`.execute(db);
  await sql`alter table live_sessions add constraint live_sessions_end_reason_check
    check (end_reason is null or end_reason in ('stopped', 'disconnected', 'insufficient_tokens', 'error'))`.execute(db);
}
