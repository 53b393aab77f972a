import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('datasets')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('tags', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('datasets_user_name_key', ['user_id', 'name'])
    .execute();

  await db.schema
    .createTable('dataset_files')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('dataset_id', 'uuid', (c) => c.notNull().references('datasets.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('image', 'video')`))
    .addColumn('format', 'text', (c) => c.notNull())
    // Relative to DATA_DIR, e.g. datasets/<dataset>/<file>.jpg
    .addColumn('storage_key', 'text', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('frames', 'integer', (c) => c.notNull())
    .addColumn('fps', 'real')
    .addColumn('token_cost_milli', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('dataset_files_dataset_idx').on('dataset_files').columns(['dataset_id', 'created_at']).execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // Kept after the dataset is deleted: the results and annotated outputs live with the job.
    .addColumn('dataset_id', 'uuid', (c) => c.references('datasets.id').onDelete('set null'))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) =>
      c.notNull().defaultTo('queued').check(sql`state in ('queued', 'running', 'completed', 'failed', 'cancelled')`),
    )
    .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('total', 'integer', (c) => c.notNull())
    .addColumn('token_cost_milli', 'bigint', (c) => c.notNull())
    .addColumn('tokens_charged_milli', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('reservation_id', 'uuid')
    .addColumn('error', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('jobs_user_idx').on('jobs').columns(['user_id', 'created_at desc']).execute();

  // The files a job covers, fixed at submission (later uploads do not change a job), with their results.
  await db.schema
    .createTable('job_files')
    .addColumn('job_id', 'uuid', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('file_id', 'uuid', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('image', 'video')`))
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('storage_key', 'text', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('frames', 'integer', (c) => c.notNull())
    .addColumn('fps', 'real')
    .addColumn('token_cost_milli', 'bigint', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('pending').check(sql`state in ('pending', 'done', 'failed')`))
    // Images: [detection]; videos: [{index, objects}]
    .addColumn('results', 'jsonb')
    .addColumn('annotated_key', 'text')
    .addColumn('error', 'text')
    .addPrimaryKeyConstraint('job_files_pkey', ['job_id', 'file_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('job_files').execute();
  await db.schema.dropTable('jobs').execute();
  await db.schema.dropTable('dataset_files').execute();
  await db.schema.dropTable('datasets').execute();
}
