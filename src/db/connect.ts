import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from '../log.js';
import { safeUrl } from '../log.js';
import { startEmbeddedPostgres } from './embedded.js';
import { migrateToLatest } from './migrate.js';
import type { Database, Db } from './schema.js';

const INT8_OID = 20;

/** int8 → number; values past 2^53 would lose precision, so they fail loudly instead. */
const types = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === INT8_OID && format !== 'binary') {
      return (v: string) => {
        const n = Number(v);
        if (!Number.isSafeInteger(n)) throw new Error(`int8 value ${v} exceeds Number.MAX_SAFE_INTEGER`);
        return n;
      };
    }
    return pg.types.getTypeParser(oid, format as 'text') as (v: string) => unknown;
  }) as typeof pg.types.getTypeParser,
};

export function createDb(url: string, max = 10): { db: Db; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: url, max, types, application_name: 'lookout' });
  pool.on('error', () => undefined); // idle-client errors surface on the next query instead of crashing
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), pool };
}

export interface OpenDatabase {
  readonly db: Db;
  readonly kind: 'embedded' | 'external';
  /** The connection string in use (contains a password: never log it unmasked). */
  readonly url: string;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Connects to DATABASE_URL, or starts an embedded PostgreSQL under dataDir when it is unset, then applies
 * every pending migration.
 */
export async function openDatabase(opts: {
  databaseUrl: string | undefined;
  dataDir: string;
  logger: Logger;
  poolSize?: number;
}): Promise<OpenDatabase> {
  const embedded = opts.databaseUrl === undefined ? await startEmbeddedPostgres(opts.dataDir, opts.logger) : undefined;
  const url = opts.databaseUrl ?? embedded!.url;
  const { db } = createDb(url, opts.poolSize);
  try {
    const applied = await migrateToLatest(db as never);
    opts.logger.info({ db: safeUrl(url), kind: embedded ? 'embedded' : 'external', applied }, 'database ready');
  } catch (err) {
    await db.destroy();
    await embedded?.stop();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    db,
    url,
    kind: embedded ? 'embedded' : 'external',
    ping: async () => {
      try {
        await sql`select 1`.execute(db);
        return true;
      } catch {
        return false;
      }
    },
    close: () =>
      (closed ??= (async () => {
        await db.destroy();
        await embedded?.stop();
      })()),
  };
}
