/**
 * Submitting and cancelling jobs. Submission reserves the dataset's whole cost first: a short balance answers
 * 402 with nothing created and nothing queued. The job's files are fixed at submission (job_files), so later
 * uploads to the dataset do not change a job that is already paid for.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, JobRow } from '../db/schema.js';
import { getDataset, listFiles } from '../datasets/repo.js';
import { AppError } from '../errors.js';
import type { DetectionEngine } from '../inference/index.js';
import { resolvePipeline } from '../pipeline/resolve.js';
import { specFromJson } from '../pipeline/spec.js';
import { refund, reserve } from '../tokens/ledger.js';
import { changeJob, publishJob } from './events.js';
import type { JobQueue } from './queue.js';
import { ACTIVE_STATES, getJob } from './repo.js';

export interface JobServiceDeps {
  readonly db: Db;
  readonly engine: DetectionEngine;
  readonly queue: JobQueue;
}

/**
 * `body`: `{datasetId, model?, classifier?, classifyLabels?, classes?, minScore?, maxDetections?, zones?, track?}`.
 * The pipeline is checked (and its classifier loaded) before anything is reserved.
 */
export async function submitJob(deps: JobServiceDeps, userId: string, body: Record<string, unknown>): Promise<JobRow> {
  const { db, engine, queue } = deps;
  const datasetId = body['datasetId'];
  if (typeof datasetId !== 'string') throw new AppError('VALIDATION_FAILED', 'datasetId must be a string.');
  const model = body['model'];
  if (model !== undefined && (typeof model !== 'string' || model === '')) throw new AppError('VALIDATION_FAILED', 'model must be a model name.');
  const name = model ?? engine.defaultModel();
  if (!engine.list().some((m) => m.name === name)) {
    throw new AppError('NOT_FOUND', `Unknown model "${name}". Available: ${engine.list().map((m) => m.name).join(', ') || '(none)'}.`);
  }
  const { model: _model, ...spec } = specFromJson(body);
  await resolvePipeline(engine, { ...spec, model: name }, true);
  const ds = await getDataset(db, userId, datasetId);
  const files = await listFiles(db, ds.id);
  if (files.length === 0) throw new AppError('VALIDATION_FAILED', 'The dataset has no files yet: upload some first.');
  const cost = files.reduce((n, f) => n + f.token_cost_milli, 0);
  const total = files.reduce((n, f) => n + f.frames, 0);
  const id = randomUUID();
  const hold = await reserve(db, { userId, amountMilli: cost, ref: `job:${id}`, key: `job:${id}:reserve` });
  let row: JobRow;
  try {
    row = await db.transaction().execute(async (tx) => {
      const r = await tx
        .insertInto('jobs')
        .values({ id, user_id: userId, dataset_id: ds.id, model: name, total, token_cost_milli: cost, reservation_id: hold.id, pipeline: JSON.stringify(spec) })
        .returningAll()
        .executeTakeFirstOrThrow();
      await tx
        .insertInto('job_files')
        .values(
          files.map((f, position) => ({
            job_id: id, position, file_id: f.id, name: f.name, kind: f.kind, format: f.format, storage_key: f.storage_key,
            width: f.width, height: f.height, frames: f.frames, fps: f.fps, token_cost_milli: f.token_cost_milli,
          })),
        )
        .execute();
      await publishJob(tx, r);
      return r;
    });
  } catch (err) {
    await refund(db, { reservationId: hold.id, key: `job:${id}:refund` });
    throw err;
  }
  try {
    await queue.add(id);
  } catch (err) {
    await changeJob(db, id, { state: 'failed', error: 'The job queue is unavailable.', finished_at: sql<Date>`now()` }, ACTIVE_STATES);
    await refund(db, { reservationId: hold.id, key: `job:${id}:refund` });
    throw new AppError('UNAVAILABLE', `The job queue is unavailable; nothing was charged (${err instanceof Error ? err.message : String(err)}).`);
  }
  return row;
}

/**
 * Cancels a queued or running job and returns what it did not spend at once. A worker on it notices before its
 * next item; the item it is on is not charged (its commit checks the state under the same row lock).
 */
export async function cancelJob(deps: JobServiceDeps, userId: string, id: string | undefined): Promise<JobRow> {
  const { db, queue } = deps;
  const job = await getJob(db, userId, id);
  const cancelled = await changeJob(db, job.id, { state: 'cancelled', finished_at: sql<Date>`now()` }, ACTIVE_STATES);
  if (!cancelled) throw new AppError('CONFLICT', `The job has already ${job.state === 'cancelled' ? 'been cancelled' : job.state}.`);
  await queue.remove(job.id);
  if (cancelled.reservation_id) await refund(db, { reservationId: cancelled.reservation_id, key: `job:${job.id}:refund` });
  return getJob(db, userId, job.id);
}
