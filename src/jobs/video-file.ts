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
import { AnnotatedVideoWriter, readVideoFrames } from '../media/video.js';
import type { FileOutcome } from './commit.js';
import type { FrameOutcome, Stages } from './stages.js';

/** How often progress is written and published, and cancellation checked, inside a video. */
const TICK_MS = 500;
/** Frames detected together. */
export const VIDEO_BATCH = 4;

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
  // Drawing and encoding a batch overlaps detecting the next (the detector has its own thread) and decoding the
  // one after; at most one batch waits to be written and one to be detected, so memory stays flat.
  let writing: Promise<void> = Promise.resolve();
  const detect = async (batch: (RgbFrame & { index: number })[]): Promise<void> => {
    const outcomes: FrameOutcome[] = await stages.frames(batch.map((frame) => ({ frame, pipeline, atMs: frame.index * frameMs })));
    for (const [k, r] of outcomes.entries()) {
      const index = batch[k]!.index;
      classified += r.classified;
      frames.push(Array.isArray(r.results) ? { index, objects: r.results } : { index, ...r.results });
    }
    await writing;
    writing = (async () => {
      for (const [k, r] of outcomes.entries()) await writer.writeFrame(batch[k]!, r.objects);
    })();
    writing.catch(() => undefined); // handled when awaited; never an unhandled rejection meanwhile
    if (performance.now() - last >= TICK_MS) {
      last = performance.now();
      await progress(frames.length);
    }
  };
  // ffmpeg decodes the next batch while this one is detected.
  let detecting: Promise<void> = Promise.resolve();
  try {
    let batch: (RgbFrame & { index: number })[] = [];
    for await (const frame of readVideoFrames(path.join(config.dataDir, file.storage_key), file.format as VideoType, file, { ffmpegPath, timeoutMs })) {
      batch.push(frame);
      if (batch.length < VIDEO_BATCH) continue;
      await detecting;
      detecting = detect(batch);
      detecting.catch(() => undefined); // handled when awaited
      batch = [];
    }
    await detecting;
    if (batch.length) await detect(batch);
    await writing;
    await writer.finish();
  } catch (err) {
    await detecting.catch(() => undefined);
    await writing.catch(() => undefined);
    await writer.abort();
    throw err;
  }
  return { state: 'done', results: frames, annotatedKey: key, classified };
}
