/**
 * Runs one batch job: every image and every video frame of the job's files through the job's pipeline (the
 * detector, then filters, zones, a classifier on the crops, and per video a tracker; or a classifier on the
 * whole image), results stored per file with an annotated output (JPEG with boxes; H.264 MP4 with boxes),
 * progress published at least every second.
 *
 * Charging is exactly once per item whatever happens to workers: a file's charge (its images or frames ×
 * price, key `job:<id>:file:<fileId>`) commits in the same transaction as its results, and a retried job
 * skips files that are done. A file in flight when a worker dies is simply done again and charged once.
 * Cancellation is seen between files and, inside a video, at each progress tick; unprocessed items cost
 * nothing, and whatever the job did not spend goes back to the balance (key `job:<id>:refund`).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db, JobFileRow, JobRow } from '../db/schema.js';
import { AppError, isAppError } from '../errors.js';
import type { DetectionEngine, Detection, Detector } from '../inference/index.js';
import type { Classifier, LabelScore, RgbFrame } from '../inference/types.js';
import type { Logger } from '../log.js';
import { annotate } from '../media/annotate.js';
import { resolveFfmpeg } from '../media/ffmpeg.js';
import { decodeImage } from '../media/image.js';
import { AnnotatedVideoWriter, readVideoFrames } from '../media/video.js';
import type { VideoType } from '../media/sniff.js';
import { chargeInTx, refund, tryHoldMore } from '../tokens/ledger.js';
import type { EventSink } from '../events/types.js';
import type { Metrics } from '../metrics.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { resolvePipeline } from '../pipeline/resolve.js';
import { specFromJson, type PipelineSpec } from '../pipeline/spec.js';
import { changeJob, publishJob } from './events.js';
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

/** How often progress is written and published, and cancellation checked, inside a video. */
const TICK_MS = 500;

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

/**
 * What runs a job's frames: a fresh Pipeline per file (a video's tracker starts with the video), or the
 * classifier on the whole frame. `results` is what one frame stores.
 */
interface Stages {
  /** `classified`: crops the classifier stage classified (and held tokens for). */
  frame(frame: RgbFrame, pipeline: Pipeline | undefined, atMs: number): Promise<{ objects: Detection[]; results: Detection[] | { classifications: LabelScore[] }; classified: number }>;
  pipeline(video: boolean, fileId: string): Pipeline | undefined;
}

async function stagesFor(deps: ProcessorDeps, job: JobRow): Promise<Stages> {
  const { engine, db, config } = deps;
  const spec: PipelineSpec = { ...specFromJson(job.pipeline), model: job.model };
  const resolved = await resolvePipeline(engine, spec, true);
  if (resolved.mode === 'classify') {
    const classifier: Classifier = await engine.classifier(resolved.model);
    return {
      pipeline: () => undefined,
      frame: async (frame) => {
        const top = (await classifier.classify(frame)).classifications[0];
        const classifications = top?.top ?? [];
        // Drawn as one box round the whole picture, labelled with the best class.
        const objects: Detection[] = top ? [{ label: top.label, classId: 0, score: top.score, box: [0, 0, frame.width, frame.height] }] : [];
        return { objects, results: { classifications }, classified: 0 };
      },
    };
  }
  const detector: Detector = await engine.get(resolved.model);
  const cropPrice = config.tokens.priceCropMilli;
  return {
    pipeline: (video, fileId) => {
      // Crops are held for as they come (PRICE_CLASSIFIED_CROP), keyed by their order in the file: a retried
      // file holds under the same keys, so nothing is held twice; the file's charge covers what it classified.
      let n = 0;
      const payCrops = (count: number): Promise<boolean> =>
        tryHoldMore(db, { userId: job.user_id, reservationId: job.reservation_id!, ref: `job:${job.id}`, key: `job:${job.id}:file:${fileId}:crops:${++n}`, amountMilli: count * cropPrice });
      const tracker = { lostMs: config.tracking.lostMs };
      return new Pipeline(spec, resolved.classifier ? { tracker, classifier: resolved.classifier, ...(cropPrice > 0 ? { payCrops } : {}) } : { tracker }, video);
    },
    frame: async (frame, pipeline, atMs) => {
      const r = await detector.detectFrame(frame);
      if (!pipeline) return { objects: r.objects, results: r.objects, classified: 0 };
      const p = await pipeline.process(frame, r.objects, atMs);
      return { objects: p.objects, results: p.objects, classified: p.classified };
    },
  };
}

/** Runs the job's pending files; returns its final state. */
async function run(deps: ProcessorDeps, job: JobRow): Promise<'completed' | 'failed'> {
  const { db, config } = deps;
  const stages = await stagesFor(deps, job);
  const files = await db.selectFrom('job_files').selectAll().where('job_id', '=', job.id).orderBy('position').execute();
  let done = files.filter((f) => f.state !== 'pending').reduce((n, f) => n + f.frames, 0);
  await mkdir(jobDir(config.dataDir, job.id), { recursive: true });
  const failures: string[] = files.filter((f) => f.state === 'failed').map((f) => `${f.name}: ${f.error ?? 'failed'}`);

  // Writes progress, publishes it, and tells whether the job is still running (false: it was cancelled).
  const tick = async (doneNow: number): Promise<void> => {
    const r = await changeJob(db, job.id, { done: doneNow }, ['running']);
    if (!r) throw new Cancelled();
  };

  for (const file of files) {
    if (file.state !== 'pending') continue;
    await tick(done); // also the cancellation check between files
    const fileStarted = performance.now();
    let result: { results: unknown; annotatedKey: string; classified: number };
    try {
      result =
        file.kind === 'image'
          ? await runImage(deps, stages, job, file)
          : await runVideo(deps, stages, job, file, (i) => tick(done + i));
    } catch (err) {
      if (err instanceof Cancelled || !isAppError(err) || err.code === 'UNAVAILABLE') throw err;
      // This file cannot be processed (damaged since upload, ...): it is not charged; the job goes on.
      failures.push(`${file.name}: ${err.message}`);
      await db.updateTable('job_files').set({ state: 'failed', error: err.message }).where('job_id', '=', job.id).where('file_id', '=', file.file_id).execute();
      done += file.frames;
      continue;
    }
    done += file.frames;
    const outcome = await db.transaction().execute(async (tx) => {
      const running = await tx.selectFrom('jobs').select('state').where('id', '=', job.id).forUpdate().executeTakeFirst();
      if (running?.state !== 'running') return { committed: false, charged: false, fileMilli: 0 }; // cancelled while this file ran: not charged
      const fileMilli = file.token_cost_milli + result.classified * config.tokens.priceCropMilli;
      const charged = await chargeInTx(tx, { reservationId: job.reservation_id!, amountMilli: fileMilli, key: `job:${job.id}:file:${file.file_id}` });
      await tx
        .updateTable('job_files')
        .set({ state: 'done', results: JSON.stringify(result.results), annotated_key: result.annotatedKey })
        .where('job_id', '=', job.id)
        .where('file_id', '=', file.file_id)
        .execute();
      const row = await tx
        .updateTable('jobs')
        .set({ done, ...(charged ? { tokens_charged_milli: sql<number>`tokens_charged_milli + ${fileMilli}` } : {}) })
        .where('id', '=', job.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await publishJob(tx, row);
      return { committed: true, charged, fileMilli };
    });
    if (!outcome.committed) {
      await rm(path.join(config.dataDir, result.annotatedKey), { force: true });
      throw new Cancelled();
    }
    const m = deps.metrics;
    if (m) {
      m.jobItemDuration.observe({ model: job.model, kind: file.kind }, (performance.now() - fileStarted) / 1000);
      m.jobItems.inc({ model: job.model, kind: file.kind === 'image' ? 'image' : 'video_frame' }, file.frames);
      if (outcome.charged) m.tokensCharged.inc({ kind: file.kind === 'image' ? 'image' : 'video' }, outcome.fileMilli / 1000);
    }
  }
  const failedAll = files.length > 0 && failures.length === files.length;
  const state = failedAll ? 'failed' : 'completed';
  await finish(deps, job.id, state, failures.length ? `${failures.length} of ${files.length} files failed: ${failures.slice(0, 3).join('; ')}` : null);
  return state;
}

async function runImage(deps: ProcessorDeps, stages: Stages, job: JobRow, file: JobFileRow): Promise<{ results: unknown; annotatedKey: string; classified: number }> {
  const { config } = deps;
  const bytes = await readFile(path.join(config.dataDir, file.storage_key)).catch(() => {
    throw new AppError('NOT_FOUND', 'The file is no longer on disk.');
  });
  const frame = await decodeImage(new Uint8Array(bytes), config.uploads.imageMaxPixels);
  const r = await stages.frame(frame, stages.pipeline(false, file.file_id), 0);
  const key = path.posix.join('jobs', job.id, `${file.file_id}.jpg`);
  await writeFile(path.join(config.dataDir, key), await annotate(frame, r.objects, 'jpeg'));
  return { results: r.results, annotatedKey: key, classified: r.classified };
}

async function runVideo(
  deps: ProcessorDeps,
  stages: Stages,
  job: JobRow,
  file: JobFileRow,
  progress: (framesDone: number) => Promise<void>,
): Promise<{ results: unknown[]; annotatedKey: string; classified: number }> {
  const { config } = deps;
  const ffmpegPath = (await resolveFfmpeg({ envPath: config.ffmpegPath })).path;
  const key = path.posix.join('jobs', job.id, `${file.file_id}.mp4`);
  const out = path.join(config.dataDir, key);
  // MEDIA_TIMEOUT_S bounds ffmpeg's own work; detection runs inside the same decode, so allow it 200 ms a frame
  // on top (a floor of 5 fps) before the run counts as stuck.
  const timeoutMs = config.uploads.mediaTimeoutMs + file.frames * 200;
  const writer = await AnnotatedVideoWriter.open(out, { width: file.width, height: file.height, fps: file.fps ?? 30, ffmpegPath, timeoutMs });
  const frames: unknown[] = [];
  const pipeline = stages.pipeline(true, file.file_id);
  let classified = 0;
  const frameMs = 1000 / (file.fps ?? 30);
  let last = performance.now();
  // Drawing and encoding frame n overlaps detecting frame n + 1 (the detector has its own thread); at most one
  // frame waits to be written, so memory stays flat.
  let writing: Promise<void> = Promise.resolve();
  try {
    for await (const frame of readVideoFrames(path.join(config.dataDir, file.storage_key), file.format as VideoType, file, { ffmpegPath, timeoutMs })) {
      const r = await stages.frame(frame, pipeline, frame.index * frameMs);
      classified += r.classified;
      frames.push(Array.isArray(r.results) ? { index: frame.index, objects: r.results } : { index: frame.index, ...r.results });
      await writing;
      writing = writer.writeFrame(frame, r.objects);
      writing.catch(() => undefined); // handled when awaited; never an unhandled rejection meanwhile
      if (performance.now() - last >= TICK_MS) {
        last = performance.now();
        await progress(frames.length);
      }
    }
    await writing;
    await writer.finish();
  } catch (err) {
    await writing.catch(() => undefined);
    await writer.abort();
    throw err;
  }
  return { results: frames, annotatedKey: key, classified };
}
