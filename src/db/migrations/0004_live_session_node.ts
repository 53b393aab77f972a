import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

/** The server (NODE_ID) that runs a live session: at its next start it closes what it left open, at once. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('live_sessions').addColumn('node_id', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('live_sessions').dropColumn('node_id').execute();
}
