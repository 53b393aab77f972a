/**
 * Commits finished files of a job, several at a time, exactly once: in one transaction the job row is locked
 * (a cancelled job commits nothing), every done file is charged under its own key `job:<id>:file:<fileId>` (its
 * frames × price plus the crops it classified), the files' results and annotated outputs are recorded, the
 * job's progress and charged total move on, and the new state is published. A crash before the commit leaves
 * the batch's files pending, so a retried job does them again and charges them once; a crash after it leaves
 * them done, and they are skipped.
 */
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db, JobFileRow, JobRow } from '../db/schema.js';
import { chargeManyInTx } from '../tokens/ledger.js';
import { publishJob } from './events.js';

export type FileOutcome =
  | { state: 'done'; results: unknown; annotatedKey: string; classified: number }
  /** Could not be processed (damaged since upload, ...): not charged; the job goes on. */
  | { state: 'failed'; error: string };

export interface FinishedFile {
  file: JobFileRow;
  outcome: FileOutcome;
}

export interface Committed {
  /** False: the job is no longer running (cancelled), and nothing was recorded. */
  committed: boolean;
  /** Milli-tokens charged by this commit (0 for files charged before, by an earlier attempt). */
  chargedMilli: number;
}

export const fileChargeKey = (jobId: string, fileId: string): string => `job:${jobId}:file:${fileId}`;

/** `done`: the job's progress once these files count (items of every file done or failed so far). */
export async function commitFiles(db: Db, config: Config, job: JobRow, files: readonly FinishedFile[], done: number): Promise<Committed> {
  return db.transaction().execute(async (tx) => {
    const running = await tx.selectFrom('jobs').select('state').where('id', '=', job.id).forUpdate().executeTakeFirst();
    if (running?.state !== 'running') return { committed: false, chargedMilli: 0 };
    const charges = files.flatMap(({ file, outcome }) =>
      outcome.state === 'done' ? [{ key: fileChargeKey(job.id, file.file_id), amountMilli: Number(file.token_cost_milli) + outcome.classified * config.tokens.priceCropMilli }] : [],
    );
    const chargedMilli = await chargeManyInTx(tx, job.reservation_id!, charges);
    // One statement for the whole batch: arrays of the files' new columns, unnested side by side.
    const col = <T>(f: (o: FinishedFile) => T): T[] => files.map(f);
    await sql`
      update job_files as f
         set state = v.state, results = v.results::jsonb, annotated_key = v.annotated_key, error = v.error
        from unnest(
               ${col((o) => o.file.file_id)}::uuid[],
               ${col((o) => o.outcome.state)}::text[],
               ${col((o) => (o.outcome.state === 'done' ? JSON.stringify(o.outcome.results) : null))}::text[],
               ${col((o) => (o.outcome.state === 'done' ? o.outcome.annotatedKey : null))}::text[],
               ${col((o) => (o.outcome.state === 'failed' ? o.outcome.error : null))}::text[]
             ) as v(file_id, state, results, annotated_key, error)
       where f.job_id = ${job.id} and f.file_id = v.file_id`.execute(tx);
    const row = await tx
      .updateTable('jobs')
      .set({ done, ...(chargedMilli > 0 ? { tokens_charged_milli: sql<number>`tokens_charged_milli + ${chargedMilli}` } : {}) })
      .where('id', '=', job.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await publishJob(tx, row);
    return { committed: true, chargedMilli };
  });
}
