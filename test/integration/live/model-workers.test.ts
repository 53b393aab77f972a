/**
 * MODEL_WORKERS end to end: a real server runs NanoDet in two worker threads, and two real WebRTC streams (a face,
 * a cat) share it. Inferences of the two sessions run at once (the metrics count the runs that started while
 * another was going), no frame runs twice, and each session gets the detections of its own picture in frame order.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useLiveServer } from '../../helpers/live.js';
import { makeCatClip } from '../../helpers/media.js';
import { metricDelta, scrapeMetrics } from '../../helpers/metrics.js';
import { signUp, type TestServer } from '../../helpers/server.js';
import { expectOwnPictures, streamFaceAndCat } from '../../helpers/two-streams.js';

const live = useLiveServer({
  clipSeconds: 6,
  // A wide budget so that a slow machine drops no frame as late: what is under test is who gets what.
  env: { MODEL_WORKERS: '2', LIVE_BATCH: 'off', LIVE_BUDGET_MS: '5000', INITIAL_TOKENS: '1000' },
});
let s: TestServer;
let faceClip: string;
let catClip: string;

beforeAll(async () => {
  const f = live();
  s = f.server;
  faceClip = f.clip;
  catClip = path.join(f.tmp, 'cat.mp4');
  await makeCatClip(catClip, 6);
}, 120_000);

describe('live sessions on a model in two workers', () => {
  it('runs frames of two sessions at once, each frame once, and gives each session its own detections in order', async () => {
    const u = await signUp(s);
    const before = await scrapeMetrics(s);
    const r = await streamFaceAndCat(s, u.token, { face: faceClip, cat: catClip });
    expectOwnPictures(r);
    const processed = r.face.ended!.stats.framesProcessed + r.cat.ended!.stats.framesProcessed;

    const health = (await (await fetch(`${s.url}/api/v1/health`)).json()) as { onnx: { workers: Record<string, number> } };
    expect(health.onnx.workers).toMatchObject({ nanodet: 2 });
    const after = await scrapeMetrics(s);
    const d = (key: string): number => metricDelta(before, after, key);
    // One frame a run (no batching), every processed frame in exactly one run.
    expect(d('lookout_live_batch_size_count{model="nanodet"}')).toBe(processed);
    expect(d('lookout_live_batch_size_sum{model="nanodet"}')).toBe(processed);
    // With one worker this is 0 by construction: the scheduler starts a run only when none is going.
    expect(d('lookout_live_parallel_runs_total{model="nanodet"}')).toBeGreaterThan(0);
  });
});
