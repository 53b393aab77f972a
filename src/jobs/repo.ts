/**
 * Jobs in the database. `job` = {id, datasetId, model, state, progress: {done, total}, tokenCost, tokensCharged,
 * error?, createdAt, startedAt?, finishedAt?} as in the contract; every query is scoped to the owner.
 */
import { AppError } from '../errors.js';
import type { DbOrTx, JobRow, JobState } from '../db/schema.js';
import { isId } from '../datasets/repo.js';
import { toTokens } from '../tokens/amount.js';

export interface PublicJob {
  id: string;
  datasetId: string | null;
  model: string;
  /** The pipeline's other fields (classifier, classes, minScore, maxDetections, zones, track) as submitted. */
  pipeline: Record<string, unknown>;
  state: JobState;
  progress: { done: number; total: number };
  tokenCost: number;
  tokensCharged: number;
  error?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

export const ACTIVE_STATES: readonly JobState[] = ['queued', 'running'];
export const isFinished = (s: JobState): boolean => !ACTIVE_STATES.includes(s);

export function toPublicJob(j: JobRow): PublicJob {
  return {
    id: j.id,
    datasetId: j.dataset_id,
    model: j.model,
    pipeline: j.pipeline,
    state: j.state,
    progress: { done: j.done, total: j.total },
    tokenCost: toTokens(j.token_cost_milli),
    tokensCharged: toTokens(j.tokens_charged_milli),
    ...(j.error ? { error: j.error } : {}),
    createdAt: j.created_at.toISOString(),
    ...(j.started_at ? { startedAt: j.started_at.toISOString() } : {}),
    ...(j.finished_at ? { finishedAt: j.finished_at.toISOString() } : {}),
  };
}

export async function getJob(db: DbOrTx, userId: string, id: string | undefined): Promise<JobRow> {
  const row = isId(id) ? await db.selectFrom('jobs').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst() : undefined;
  if (!row) throw new AppError('NOT_FOUND', 'Job not found.');
  return row;
}

export async function listJobs(db: DbOrTx, userId: string, limit: number, before?: Date): Promise<JobRow[]> {
  return db
    .selectFrom('jobs')
    .selectAll()
    .where('user_id', '=', userId)
    .$if(before !== undefined, (q) => q.where('created_at', '<', before!))
    .orderBy('created_at', 'desc')
    .limit(limit)
    .execute();
}

/** The user's queued and running jobs, oldest first (the snapshot a `jobs` subscriber gets). */
export async function activeJobs(db: DbOrTx, userId: string): Promise<JobRow[]> {
  return db.selectFrom('jobs').selectAll().where('user_id', '=', userId).where('state', 'in', [...ACTIVE_STATES]).orderBy('created_at').execute();
}
