import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().defaultTo('user').check(sql`role in ('user', 'admin')`))
    .addColumn('balance_milli', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`balance_milli >= 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('sessions_user_id_idx').on('sessions').column('user_id').execute();

  await db.schema
    .createTable('token_ledger')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id'))
    .addColumn('amount_milli', 'bigint', (c) => c.notNull().check(sql`amount_milli <> 0`))
    .addColumn('balance_after_milli', 'bigint', (c) => c.notNull().check(sql`balance_after_milli >= 0`))
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('ref', 'text')
    .addColumn('idempotency_key', 'text', (c) => c.unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('token_ledger_user_idx').on('token_ledger').columns(['user_id', 'id desc']).execute();

  // The ledger is append-only: history is corrected by new entries, never rewritten.
  await sql`
    create function token_ledger_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'token_ledger is append-only (% refused)', tg_op;
    end $$`.execute(db);
  await sql`
    create trigger token_ledger_no_rewrite before update or delete on token_ledger
    for each row execute function token_ledger_append_only()`.execute(db);

  await db.schema
    .createTable('token_reservations')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id'))
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('held_milli', 'bigint', (c) => c.notNull().check(sql`held_milli >= 0`))
    .addColumn('charged_milli', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`charged_milli >= 0`))
    .addColumn('refunded_milli', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`refunded_milli >= 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('token_reservations_not_overspent', sql`charged_milli + refunded_milli <= held_milli`)
    .execute();
  await db.schema.createIndex('token_reservations_ref_idx').on('token_reservations').column('ref').execute();

  await db.schema
    .createTable('token_charges')
    .addColumn('idempotency_key', 'text', (c) => c.primaryKey())
    .addColumn('reservation_id', 'uuid', (c) => c.notNull().references('token_reservations.id'))
    .addColumn('amount_milli', 'bigint', (c) => c.notNull().check(sql`amount_milli > 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('token_charges_reservation_idx').on('token_charges').column('reservation_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('token_charges').execute();
  await db.schema.dropTable('token_reservations').execute();
  await sql`drop trigger token_ledger_no_rewrite on token_ledger`.execute(db);
  await sql`drop function token_ledger_append_only()`.execute(db);
  await db.schema.dropTable('token_ledger').execute();
  await db.schema.dropTable('sessions').execute();
  await db.schema.dropTable('users').execute();
}
