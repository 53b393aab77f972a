/**
 * Letting data go: a finished live session with its recording, a finished job with its results and annotated
 * files. The rows go first, in one statement, then the files: a crash in between leaves files no row points at
 * (harmless, and removable by a sweep), never a row that points at a missing file.
 */
import { rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../db/schema.js';
import { AppError } from '../errors.js';
import { getLiveSession } from '../live/repo.js';
import { getJob, isFinished } from '../jobs/repo.js';

export async function deleteLiveSession(db: Db, userId: string, id: string | undefined): Promise<void> {
  const row = id ? await getLiveSession(db, userId, id) : undefined;
  if (!row) throw new AppError('NOT_FOUND', 'Live session not found.');
  if (row.state === 'live') throw new AppError('CONFLICT', 'The session is still live: stop it first.');
  const gone = await db.deleteFrom('live_sessions').where('id', '=', row.id).where('state', '=', 'ended').returning('recording_path').executeTakeFirst();
  if (!gone) throw new AppError('CONFLICT', 'The session is still live: stop it first.');
  if (gone.recording_path) await unlink(gone.recording_path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
}

export async function purgeJob(db: Db, dataDir: string, userId: string, id: string | undefined): Promise<void> {
  const job = await getJob(db, userId, id);
  if (!isFinished(job.state)) throw new AppError('CONFLICT', `The job is ${job.state}: cancel it (DELETE without purge) before purging it.`);
  const gone = await db.deleteFrom('jobs').where('id', '=', job.id).where('state', 'in', ['completed', 'failed', 'cancelled']).returning('id').executeTakeFirst();
  if (!gone) throw new AppError('CONFLICT', 'The job is running again: cancel it before purging it.');
  await rm(path.join(dataDir, 'jobs', job.id), { recursive: true, force: true });
}
