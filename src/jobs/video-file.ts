/**
 * One video file of a job: its frames decoded by ffmpeg, detected a few at a time (one inference when the
 * model takes a batch), run through the file's pipeline (its tracker sees the frames in order), and drawn and
 * re-encoded as an H.264 MP4 while the next frames are detected. Progress is reported (and cancellation seen)
 * at least every TICK_MS.
 */
import path from 'node:path';
import type { Config } from '../config.js';
import type { JobFileRow, JobRow } from '../db/schema.js';
import type { RgbFrame } from '../inference/types.js';
import { resolveFfmpeg } from '../media/ffmpeg.js';
import type { VideoType } from '../media/sniff.js';
import { FramePool } from '../media/frame-pool.js';
import { AnnotatedVideoWriter, readVideoFrames } from '../media/video.js';
import type { FileOutcome } from './commit.js';
import type { FrameOutcome, Stages } from './stages.js';
import { Chain } from './chain.js';

/** How often progress is written and published, and cancellation checked, inside a video. */
const TICK_MS = 500;
/** Frames detected together. */
export const VIDEO_BATCH = 4;
/** Decoded frames a video's stages may hold at once, in bytes, before their queues shorten to one batch. */
const IN_FLIGHT_BYTES = 96 * 1024 * 1024;

/**
 * How many batches may wait between two stages: two (up to 24 frames held in all: three batches on each side of
 * the detector while a stage waits for room), or one (16 frames) for frames too large for IN_FLIGHT_BYTES, so
 * that a 4K video holds about 400 MB, not 600. 640×480 and 1280×720 get two.
 */
export function queueDepth(frameBytes: number): 1 | 2 {
  return 6 * VIDEO_BATCH * frameBytes <= IN_FLIGHT_BYTES ? 2 : 1;
}

export async function runVideo(
  config: Config,
  stages: Stages,
  job: JobRow,
  file: JobFileRow,
  progress: (framesDone: number) => Promise<void>,
): Promise<Extract<FileOutcome, { state: 'done' }>> {
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
  // Three stages run at once, each in order, joined by short queues: ffmpeg decodes up to `depth` batches
  // ahead of the detector, and up to `depth` detected batches wait to be drawn and encoded. Each stage has
  // a core's worth of work of its own (decode, inference in the model's thread, x264), so a one-batch hand-off
  // left cores idle whenever one stage hiccupped; memory stays bounded (a 640×480 batch is 3.7 MB).
  const pool = new FramePool(file.width * file.height * 3);
  const depth = queueDepth(pool.size);
  const detects = new Chain(depth);
  const writes = new Chain(depth);
  const detect = async (batch: (RgbFrame & { index: number })[]): Promise<void> => {
    const outcomes: FrameOutcome[] = await stages.frames(batch.map((frame) => ({ frame, pipeline, atMs: frame.index * frameMs })));
    for (const [k, r] of outcomes.entries()) {
      const index = batch[k]!.index;
      classified += r.classified;
      frames.push(Array.isArray(r.results) ? { index, objects: r.results } : { index, ...r.results });
    }
    // The decoded frames are this file's own: boxes are drawn onto them, not onto copies.
    await writes.add(async () => {
      for (const [k, r] of outcomes.entries()) {
        const frame = batch[k]!;
        await writer.writeFrame(frame, r.objects, { owned: true, written: () => pool.give(frame.data) });
      }
    });
    if (performance.now() - last >= TICK_MS) {
      last = performance.now();
      await progress(frames.length);
    }
  };
  try {
    let batch: (RgbFrame & { index: number })[] = [];
    for await (const frame of readVideoFrames(path.join(config.dataDir, file.storage_key), file.format as VideoType, file, { ffmpegPath, timeoutMs, pool })) {
      batch.push(frame);
      if (batch.length < VIDEO_BATCH) continue;
      const b = batch;
      await detects.add(() => detect(b));
      batch = [];
    }
    if (batch.length) {
      const b = batch;
      await detects.add(() => detect(b));
    }
    await detects.drain();
    await writes.drain();
    await writer.finish();
  } catch (err) {
    await detects.settle();
    await writes.settle();
    await writer.abort();
    throw err;
  }
  return { state: 'done', results: frames, annotatedKey: key, classified };
}
