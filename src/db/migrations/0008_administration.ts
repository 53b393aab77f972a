import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

/**
 * Administration: users can be disabled and deleted (a deleted user stays as an anonymised row, so the ledger,
 * which is append-only and points at it, still adds up), their last sign-in is kept, sign-ups can need a
 * one-time invite, and every admin action and security event goes to an audit log.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('disabled_at', 'timestamptz')
    .addColumn('deleted_at', 'timestamptz')
    .addColumn('last_login_at', 'timestamptz')
    .execute();
  // An adjustment's reason, shown in the user's ledger (adding a column rewrites no row of the append-only ledger).
  await db.schema.alterTable('token_ledger').addColumn('note', 'text').execute();
  // Paged by (created_at, id): stable while users sign up.
  await db.schema.createIndex('users_created_idx').on('users').columns(['created_at', 'id']).execute();

  await db.schema
    .createTable('invites')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    /** SHA-256 (hex) of the code; the code itself is shown once. */
    .addColumn('code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('created_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('used_at', 'timestamptz')
    .addColumn('used_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    /** Who: a user (admin or the user concerned), or null for the command line and the server itself. */
    .addColumn('actor_id', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_id', 'uuid')
    .addColumn('target', 'text')
    .addColumn('detail', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_log').execute();
  await db.schema.dropTable('invites').execute();
  await db.schema.dropIndex('users_created_idx').execute();
  await db.schema.alterTable('token_ledger').dropColumn('note').execute();
  await db.schema.alterTable('users').dropColumn('disabled_at').dropColumn('deleted_at').dropColumn('last_login_at').execute();
}
