/**
 * Batching across live sessions, end to end: a real server with LIVE_BATCH=on runs two real WebRTC streams on
 * NanoDet (which takes a batch). One stream shows a face, the other a cat: batches form (the metrics say so),
 * every processed frame went through exactly one inference, and each session only ever gets detections of its
 * own picture, so results reach the session whose frame they came from.
 */
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { streamFile, type ServerMessage } from '../../../src/live/client/stream.js';
import { useLiveServer } from '../../helpers/live.js';
import { metricDelta, scrapeMetrics } from '../../helpers/metrics.js';
import { FIXTURES } from '../../helpers/onnx-setup.js';
import { signUp, type TestServer } from '../../helpers/server.js';

const live = useLiveServer({
  clipSeconds: 6,
  // The window is as wide as it goes, and the budget wider still, so that frames of both streams meet in one run
  // however slow the machine is (a busy CI machine starves the streams: a narrow window then saw no batch at all).
  env: { LIVE_BATCH: 'on', LIVE_BATCH_MAX_SIZE: '4', LIVE_BATCH_MAX_WAIT_MS: '1000', LIVE_BUDGET_MS: '5000', INITIAL_TOKENS: '1000' },
});
let s: TestServer;
let faceClip: string;
let catClip: string;

beforeAll(async () => {
  const f = live();
  s = f.server;
  faceClip = f.clip;
  catClip = path.join(f.tmp, 'cat.mp4');
  // A still photo of a cat as a 6 s clip, with a slow pan so the encoder sends real frames throughout.
  await promisify(execFile)('ffmpeg', [
    '-y', '-loglevel', 'error', '-loop', '1', '-framerate', '30', '-i', path.join(FIXTURES, 'chelsea.jpg'),
    '-vf', "scale=700:520,crop=640:480:'30+30*sin(t)':'20+20*cos(t)',format=yuv420p", '-t', '6',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', catClip,
  ]);
}, 120_000);

describe('live batching across sessions', () => {
  it('runs frames of two sessions as one inference and gives each session the detections of its own frames', async () => {
    const u = await signUp(s);
    const before = await scrapeMetrics(s);
    const labels = { face: new Map<string, number>(), cat: new Map<string, number>() };
    const frames = { face: [] as number[], cat: [] as number[] };
    const stream = (which: 'face' | 'cat', file: string) =>
      streamFile({
        server: s.url,
        token: u.token,
        file,
        codec: 'vp8',
        fps: 30,
        model: 'nanodet',
        record: false,
        durationS: 5,
        onMessage: (m: ServerMessage) => {
          if (m.type !== 'detections') return;
          frames[which].push(m.frame);
          for (const o of m.objects) labels[which].set(o.label, (labels[which].get(o.label) ?? 0) + 1);
        },
      });
    const [face, cat] = await Promise.all([stream('face', faceClip), stream('cat', catClip)]);
    expect(face.errors).toEqual([]);
    expect(cat.errors).toEqual([]);
    const processed = face.ended!.stats.framesProcessed + cat.ended!.stats.framesProcessed;
    expect(face.ended!.stats.framesProcessed).toBeGreaterThan(3);
    expect(cat.ended!.stats.framesProcessed).toBeGreaterThan(3);

    // Each session saw its own picture, frame after frame. A result given to the wrong session would put the
    // other picture's label in about half of the frames; NanoDet's rare false positive (a "person" in the cat
    // photo once in a while) stays far below that.
    const seen = (which: 'face' | 'cat', label: string): number => labels[which].get(label) ?? 0;
    const nFace = face.ended!.stats.framesProcessed;
    const nCat = cat.ended!.stats.framesProcessed;
    const report = JSON.stringify({ face: [...labels.face], cat: [...labels.cat], nFace, nCat });
    expect(seen('face', 'person'), report).toBeGreaterThan(nFace / 2);
    expect(seen('cat', 'cat'), report).toBeGreaterThan(nCat / 2);
    expect(seen('face', 'cat'), report).toBeLessThanOrEqual(nFace / 10);
    expect(seen('cat', 'person'), report).toBeLessThanOrEqual(nCat / 10);
    for (const f of [frames.face, frames.cat]) expect(f).toEqual([...f].sort((a, b) => a - b));

    // Batches formed, and every processed frame was in exactly one inference run.
    const after = await scrapeMetrics(s);
    const d = (key: string): number => metricDelta(before, after, key);
    const runs = d('lookout_live_batch_size_count{model="nanodet"}');
    const framesRun = d('lookout_live_batch_size_sum{model="nanodet"}');
    expect(framesRun).toBe(processed);
    expect(runs).toBeLessThan(processed); // some runs held frames of both sessions
    const sizes = `${runs} runs for ${framesRun} frames`;
    expect(d('lookout_live_batch_size_bucket{model="nanodet",le="1"}'), sizes).toBeLessThan(runs);
  });
});
