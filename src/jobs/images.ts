/**
 * A job's image files, as a pipeline whose stages overlap: files are read and decoded ahead (on libuv's
 * threads) while the detector (its own thread) runs the current batch as one inference, and each batch's
 * annotated JPEGs are encoded and written, and the batch committed, while the next batch is detected.
 *
 * Memory stays bounded: decoding runs at most two batches ahead and holds at most LOOKAHEAD_PIXELS of decoded
 * frames (always at least one file); one batch waits for its commit at a time. Commits run in file order, one
 * at a time. A file that cannot be read or decoded fails on its own (not charged); anything else (the model
 * gone, the disk) stops the job for a retry, after the work in flight has settled and the annotated files of
 * batches not committed have been removed.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { JobFileRow, JobRow } from '../db/schema.js';
import { AppError, isAppError } from '../errors.js';
import type { RgbFrame } from '../inference/types.js';
import { annotate } from '../media/annotate.js';
import { decodeImage } from '../media/image.js';
import type { FinishedFile } from './commit.js';
import type { Stages } from './stages.js';

/** Files detected as one inference and committed as one transaction. */
export const BATCH_FILES = 8;
/** Decoded pixels held ahead of the detector (72 MB of RGB; a larger single image still goes, alone). */
const LOOKAHEAD_PIXELS = 24_000_000;

export interface ImageRun {
  readonly config: Config;
  readonly job: JobRow;
  readonly stages: Stages;
  /** Commits a batch; throws when it cannot (the job was cancelled: the caller's Cancelled). */
  commit(files: readonly FinishedFile[]): Promise<void>;
}

type Decoded = { frame: RgbFrame } | { error: AppError };

/** Fails a file on its own only for what is wrong with the file; anything else stops the job. */
function fileError(err: unknown): AppError {
  if (isAppError(err) && err.code !== 'UNAVAILABLE') return err;
  throw err;
}

export async function runImages(r: ImageRun, files: readonly JobFileRow[]): Promise<void> {
  const { config, job, stages } = r;
  const decoding: Promise<Decoded>[] = [];
  let taken = 0;
  let aheadPixels = 0;
  const pump = (): void => {
    while (decoding.length < files.length && decoding.length - taken < 2 * BATCH_FILES) {
      const f = files[decoding.length]!;
      const pixels = f.width * f.height;
      if (decoding.length > taken && aheadPixels + pixels > LOOKAHEAD_PIXELS) break;
      aheadPixels += pixels;
      decoding.push(
        readFile(path.join(config.dataDir, f.storage_key))
          .catch(() => {
            throw new AppError('NOT_FOUND', 'The file is no longer on disk.');
          })
          .then((bytes) => decodeImage(new Uint8Array(bytes), config.uploads.imageMaxPixels))
          .then((frame) => ({ frame }), (err: unknown) => ({ error: fileError(err) })),
      );
    }
  };
  const take = async (i: number): Promise<Decoded> => {
    const d = await decoding[i]!;
    taken++;
    aheadPixels -= files[i]!.width * files[i]!.height;
    pump();
    return d;
  };

  /** Annotated files written for batches not committed yet: removed if the run stops. */
  const uncommitted = new Set<string>();
  let committing: Promise<void> = Promise.resolve();
  let writes: Promise<void>[] = [];
  try {
    pump();
    for (let b = 0; b < files.length; b += BATCH_FILES) {
      const batch = files.slice(b, b + BATCH_FILES);
      const decoded: Decoded[] = [];
      for (let k = 0; k < batch.length; k++) decoded.push(await take(b + k));
      const ok = batch.flatMap((file, k) => {
        const d = decoded[k]!;
        return 'frame' in d ? [{ file, frame: d.frame }] : [];
      });
      const outcomes = ok.length ? await stages.frames(ok.map(({ file, frame }) => ({ frame, pipeline: stages.pipeline(false, file.file_id), atMs: 0 }))) : [];
      const finished: FinishedFile[] = [];
      writes = [];
      for (const [k, file] of batch.entries()) {
        const d = decoded[k]!;
        if ('error' in d) {
          finished.push({ file, outcome: { state: 'failed', error: d.error.message } });
          continue;
        }
        const o = outcomes[ok.findIndex((x) => x.file === file)]!;
        const key = path.posix.join('jobs', job.id, `${file.file_id}.jpg`);
        uncommitted.add(key);
        writes.push(annotate(d.frame, o.objects, 'jpeg').then((jpeg) => writeFile(path.join(config.dataDir, key), jpeg)));
        finished.push({ file, outcome: { state: 'done', results: o.results, annotatedKey: key, classified: o.classified } });
      }
      const written = Promise.all(writes);
      written.catch(() => undefined); // handled below
      await committing; // the batch before is committed (or the run stops here)
      committing = written.then(async () => {
        await r.commit(finished);
        for (const f of finished) if (f.outcome.state === 'done') uncommitted.delete(f.outcome.annotatedKey);
      });
      committing.catch(() => undefined); // handled when awaited
    }
    await committing;
  } catch (err) {
    // Let what is in flight settle (no write lands after the clean-up), then remove what was not committed.
    await committing.catch(() => undefined);
    await Promise.allSettled([...writes, ...decoding]);
    await Promise.all([...uncommitted].map((key) => rm(path.join(config.dataDir, key), { force: true })));
    throw err;
  }
}
