import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import * as m0001 from './migrations/0001_accounts_and_tokens.js';
import * as m0002 from './migrations/0002_live_sessions.js';
import * as m0003 from './migrations/0003_datasets_and_jobs.js';
import * as m0004 from './migrations/0004_live_session_node.js';
import * as m0005 from './migrations/0005_api_keys.js';
import * as m0006 from './migrations/0006_pipelines.js';
import * as m0007 from './migrations/0007_events_and_detections.js';
import * as m0008 from './migrations/0008_administration.js';
import * as m0009 from './migrations/0009_server_lost.js';

/** Migrations are listed in code (not read from disk) so the compiled build and tsx behave the same. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_accounts_and_tokens': m0001,
  '0002_live_sessions': m0002,
  '0003_datasets_and_jobs': m0003,
  '0004_live_session_node': m0004,
  '0005_api_keys': m0005,
  '0006_pipelines': m0006,
  '0007_events_and_detections': m0007,
  '0008_administration': m0008,
  '0009_server_lost': m0009,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Applies every pending migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error !== undefined) {
    throw new Error(`Database migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
