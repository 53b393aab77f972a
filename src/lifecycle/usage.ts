/**
 * What a user keeps on this server (GET /me/usage): bytes of uploads (from the rows), of job results (annotated
 * outputs, measured on disk) and of recordings (on disk), and how many live sessions and jobs there are. The disk
 * is read with at most STAT_CONCURRENCY stats at a time; a file that has gone counts 0.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../db/schema.js';

const STAT_CONCURRENCY = 16;

export interface Usage {
  storageBytes: { uploads: number; results: number; recordings: number };
  liveSessions: number;
  jobs: number;
}

async function sizes(paths: readonly string[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < paths.length; i += STAT_CONCURRENCY) {
    const batch = await Promise.all(paths.slice(i, i + STAT_CONCURRENCY).map((p) => stat(p).then((s) => s.size, () => 0)));
    for (const n of batch) total += n;
  }
  return total;
}

export async function usageOf(db: Db, dataDir: string, userId: string): Promise<Usage> {
  const uploads = await db
    .selectFrom('dataset_files')
    .innerJoin('datasets', 'datasets.id', 'dataset_files.dataset_id')
    .where('datasets.user_id', '=', userId)
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('dataset_files.bytes'), eb.lit(0)).as('bytes'))
    .executeTakeFirstOrThrow();
  const annotated = await db
    .selectFrom('job_files')
    .innerJoin('jobs', 'jobs.id', 'job_files.job_id')
    .where('jobs.user_id', '=', userId)
    .where('job_files.annotated_key', 'is not', null)
    .select('job_files.annotated_key')
    .execute();
  const recordings = await db.selectFrom('live_sessions').where('user_id', '=', userId).where('recording_path', 'is not', null).select('recording_path').execute();
  const counts = await db
    .selectNoFrom((eb) => [
      eb.selectFrom('live_sessions').where('user_id', '=', userId).select(eb.fn.countAll<number>().as('n')).as('liveSessions'),
      eb.selectFrom('jobs').where('user_id', '=', userId).select(eb.fn.countAll<number>().as('n')).as('jobs'),
    ])
    .executeTakeFirstOrThrow();
  return {
    storageBytes: {
      uploads: Number(uploads.bytes),
      results: await sizes(annotated.map((r) => path.join(dataDir, r.annotated_key!))),
      recordings: await sizes(recordings.map((r) => r.recording_path!)),
    },
    liveSessions: Number(counts.liveSessions),
    jobs: Number(counts.jobs),
  };
}
