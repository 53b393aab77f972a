/**
 * Job events between processes. Whoever changes a job (a worker in this process or in another, a server
 * cancelling it) calls `publishJob`, which sends the job's public shape through PostgreSQL NOTIFY
 * (db/listener.ts); every server LISTENs and hands it to its WebSocket hub. So job status reaches all servers'
 * clients with either queue backend, and there is one path for events, local or not.
 */
import type { UpdateObject } from 'kysely';
import { notify } from '../db/listener.js';
import type { Database, Db, DbOrTx, JobRow, JobState } from '../db/schema.js';
import { toPublicJob, type PublicJob } from './repo.js';

export const JOB_CHANNEL = 'lookout_jobs';

export interface JobEvent {
  userId: string;
  job: PublicJob;
}

/** Sends the job's current state to every listening server (delivered when the surrounding transaction commits). */
export async function publishJob(db: DbOrTx, row: JobRow): Promise<void> {
  const event: JobEvent = { userId: row.user_id, job: toPublicJob(row) };
  await notify(db, JOB_CHANNEL, event);
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
