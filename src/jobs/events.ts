/**
 * Job events between processes. Whoever changes a job (a worker in this process or in another, a server
 * cancelling it) calls `publishJob`, which sends the job's public shape through PostgreSQL NOTIFY; every server
 * LISTENs and hands it to its WebSocket hub. The database is the one thing every process shares whatever the
 * queue backend, so job status reaches all servers' clients with either queue backend, and there is one path
 * for events, local or not.
 */
import pg from 'pg';
import { sql, type UpdateObject } from 'kysely';
import type { Database, Db, DbOrTx, JobRow, JobState } from '../db/schema.js';
import type { Logger } from '../log.js';
import { toPublicJob, type PublicJob } from './repo.js';

export const JOB_CHANNEL = 'lookout_jobs';

export interface JobEvent {
  userId: string;
  job: PublicJob;
}

/** Sends the job's current state to every listening server (delivered when the surrounding transaction commits). */
export async function publishJob(db: DbOrTx, row: JobRow): Promise<void> {
  const event: JobEvent = { userId: row.user_id, job: toPublicJob(row) };
  await sql`select pg_notify(${JOB_CHANNEL}, ${JSON.stringify(event)})`.execute(db);
}

/**
 * Applies `set` to the job only while its state is one of `onlyIf`, and publishes the result in the same
 * transaction. Returns the new row, or undefined when the job was in another state (nothing changed, nothing
 * published). Every job state change and progress write goes through here.
 */
export async function changeJob(db: Db, jobId: string, set: UpdateObject<Database, 'jobs'>, onlyIf: readonly JobState[]): Promise<JobRow | undefined> {
  return db.transaction().execute(async (tx) => {
    const row = await tx.updateTable('jobs').set(set).where('id', '=', jobId).where('state', 'in', [...onlyIf]).returningAll().executeTakeFirst();
    if (row) await publishJob(tx, row);
    return row;
  });
}

/**
 * Listens for job events on a dedicated connection and reconnects when it drops (events sent while it was
 * down are lost, so the hub's subscribers are told nothing then; the next progress event corrects them).
 */
export class JobEventListener {
  #client: pg.Client | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly onEvent: (e: JobEvent) => void,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'lookout-job-events' });
    client.on('notification', (n) => {
      if (n.channel !== JOB_CHANNEL || !n.payload) return;
      try {
        this.onEvent(JSON.parse(n.payload) as JobEvent);
      } catch (err) {
        this.logger.warn({ err }, 'bad job event');
      }
    });
    client.on('error', (err) => {
      this.logger.warn({ err: err.message }, 'job event connection lost; reconnecting');
      this.#reconnect(client);
    });
    client.on('end', () => this.#reconnect(client));
    await client.connect();
    await client.query(`LISTEN ${JOB_CHANNEL}`);
    this.#client = client;
  }

  #reconnect(client: pg.Client): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = undefined;
    void client.end().catch(() => undefined);
    this.#retry = setTimeout(() => {
      this.start().catch((err: unknown) => {
        this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'job event connection failed; retrying');
        this.#client = client; // so the next failure schedules another try
        this.#reconnect(client);
      });
    }, 1000);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const c = this.#client;
    this.#client = undefined;
    await c?.end().catch(() => undefined);
  }
}
