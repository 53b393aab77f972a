/**
 * Runs one batch job: every image and every video frame of the job's files through the job's pipeline (the
 * detector, then filters, zones, a classifier on the crops, and per video a tracker; or a classifier on the
 * whole image), results stored per file with an annotated output (JPEG with boxes; H.264 MP4 with boxes),
 * progress published at least every second. Runs of images go through a pipeline that decodes ahead, detects
 * in batches and commits in batches (images.ts); videos one at a time (video-file.ts).
 *
 * Charging is exactly once per item whatever happens to workers: a file's charge (its images or frames ×
 * price, key `job:<id>:file:<fileId>`) commits in the same transaction as its results (commit.ts: a batch of
 * files per transaction), and a retried job skips files that are done. Files in flight when a worker dies (at
 * most the batch not yet committed) are simply done again and charged once. Cancellation is seen at each
 * commit and, inside a video, at each progress tick; unprocessed items cost nothing, and whatever the job did
 * not spend goes back to the balance (key `job:<id>:refund`). */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db, JobRow } from '../db/schema.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { refund } from '../tokens/ledger.js';
import type { EventSink } from '../events/types.js';
import type { Metrics } from '../metrics.js';
import type { DetectionEngine } from '../inference/index.js';
import { commitFiles, type FileOutcome, type FinishedFile } from './commit.js';
import { changeJob } from './events.js';
import { runImages } from './images.js';
import { stagesFor } from './stages.js';
import { runVideo } from './video-file.js';
import { ACTIVE_STATES, toPublicJob } from './repo.js';

export interface ProcessorDeps {
  readonly db: Db;
  readonly config: Config;
  readonly engine: DetectionEngine;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Where job.completed / job.failed go (webhooks). */
  readonly events?: EventSink;
}

export const jobDir = (dataDir: string, jobId: string): string => path.join(dataDir, 'jobs', jobId);

class Cancelled extends Error {}

async function loadJob(db: Db, jobId: string): Promise<JobRow | undefined> {
  return db.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirst();
}

/** Returns what the job did not spend; safe to call any number of times. */
async function settle(db: Db, job: JobRow): Promise<void> {
  if (job.reservation_id) await refund(db, { reservationId: job.reservation_id, key: `job:${job.id}:refund` });
}

async function finish(deps: ProcessorDeps, jobId: string, state: 'completed' | 'failed', error: string | null): Promise<void> {
  const { db } = deps;
  const row = await changeJob(db, jobId, { state, error, finished_at: sql<Date>`now()` }, ACTIVE_STATES);
  // Only the call that changed the state tells webhooks: a job finishes once.
  if (row) deps.events?.emit(row.user_id, state === 'completed' ? 'job.completed' : 'job.failed', { job: toPublicJob(row) });
  const job = row ?? (await loadJob(db, jobId));
  if (job) await settle(db, job);
}

/** Entry point for the queue worker. Throws only for errors worth a retry (database or disk trouble). */
export async function processJob(deps: ProcessorDeps, jobId: string, info: { lastAttempt: boolean }): Promise<void> {
  const { db, logger } = deps;
  const started = await changeJob(
    db,
    jobId,
    { state: 'running', started_at: sql<Date>`coalesce(started_at, now())`, attempts: sql<number>`attempts + 1` },
    ACTIVE_STATES,
  );
  if (!started) {
    // Cancelled (or finished) before this worker got to it: make sure nothing stays held.
    const job = await loadJob(db, jobId);
    if (job) await settle(db, job);
    return;
  }
  const t0 = performance.now();
  const ended = (state: string): void => deps.metrics?.jobDuration.observe({ model: started.model, state }, (performance.now() - t0) / 1000);
  try {
    ended(await run(deps, started));
  } catch (err) {
    if (err instanceof Cancelled) {
      await settle(db, (await loadJob(db, jobId)) ?? started);
      ended('cancelled');
      return;
    }
    if (isAppError(err) || info.lastAttempt) {
      // Not worth retrying (unknown model, ...) or out of retries: the job fails, unspent tokens go back.
      logger.warn({ jobId, err }, 'job failed');
      await finish(deps, jobId, 'failed', err instanceof Error ? err.message : String(err));
      ended('failed');
      return;
    }
    throw err;
  }
}

/** Runs the job's pending files; returns its final state. */
async function run(deps: ProcessorDeps, job: JobRow): Promise<'completed' | 'failed'> {
  const { db, config } = deps;
  const stages = await stagesFor(deps, job);
  const files = await db.selectFrom('job_files').selectAll().where('job_id', '=', job.id).orderBy('position').execute();
  let done = files.filter((f) => f.state !== 'pending').reduce((n, f) => n + f.frames, 0);
  await mkdir(jobDir(config.dataDir, job.id), { recursive: true });
  let failed = files.filter((f) => f.state === 'failed').length;
  const failures: string[] = files.filter((f) => f.state === 'failed').map((f) => `${f.name}: ${f.error ?? 'failed'}`);

  /** Commits finished files (their items now count as done); Cancelled when the job was cancelled meanwhile. */
  const commit = async (finished: readonly FinishedFile[], started: number): Promise<void> => {
    done += finished.reduce((n, f) => n + f.file.frames, 0);
    const c = await commitFiles(db, config, job, finished, done);
    if (!c.committed) throw new Cancelled();
    for (const { file, outcome } of finished) {
      if (outcome.state === 'failed') {
        failed++;
        failures.push(`${file.name}: ${outcome.error}`);
      }
    }
    const m = deps.metrics;
    if (!m) return;
    const seconds = (performance.now() - started) / 1000 / finished.length;
    for (const { file } of finished) m.jobItemDuration.observe({ model: job.model, kind: file.kind }, seconds);
    for (const kind of ['image', 'video'] as const) {
      const items = finished.filter((f) => f.outcome.state === 'done' && f.file.kind === kind).reduce((n, f) => n + f.file.frames, 0);
      if (items > 0) m.jobItems.inc({ model: job.model, kind: kind === 'image' ? 'image' : 'video_frame' }, items);
    }
    if (c.chargedMilli > 0) m.tokensCharged.inc({ kind: finished[0]!.file.kind }, c.chargedMilli / 1000);
  };
  // Writes progress inside a video, publishes it, and stops the run when the job was cancelled.
  const tick = async (doneNow: number): Promise<void> => {
    const r = await changeJob(db, job.id, { done: doneNow }, ['running']);
    if (!r) throw new Cancelled();
  };

  const pending = files.filter((f) => f.state === 'pending');
  for (let i = 0; i < pending.length; ) {
    await tick(done); // also the cancellation check before each run of images and each video
    const started = performance.now();
    if (pending[i]!.kind === 'image') {
      // A run of consecutive images goes through the image pipeline, committed in batches.
      let j = i;
      while (j < pending.length && pending[j]!.kind === 'image') j++;
      let batchStarted = started;
      await runImages({ config, job, stages, commit: async (batch) => {
        await commit(batch, batchStarted);
        batchStarted = performance.now();
      } }, pending.slice(i, j));
      i = j;
      continue;
    }
    const file = pending[i++]!;
    let outcome: FileOutcome;
    try {
      outcome = await runVideo(config, stages, job, file, (n) => tick(done + n));
    } catch (err) {
      if (err instanceof Cancelled || !isAppError(err) || err.code === 'UNAVAILABLE') throw err;
      // This file cannot be processed (damaged since upload, ...): it is not charged; the job goes on.
      outcome = { state: 'failed', error: err.message };
    }
    try {
      await commit([{ file, outcome }], started);
    } catch (err) {
      if (outcome.state === 'done') await rm(path.join(config.dataDir, outcome.annotatedKey), { force: true });
      throw err;
    }
  }
  const failedAll = files.length > 0 && failed === files.length;
  const state = failedAll ? 'failed' : 'completed';
  await finish(deps, job.id, state, failures.length ? `${failures.length} of ${files.length} files failed: ${failures.slice(0, 3).join('; ')}` : null);
  return state;
}
