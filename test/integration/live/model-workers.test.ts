/**
 * MODEL_WORKERS end to end: a real server runs NanoDet in two worker threads, and two real WebRTC streams (a face,
 * a cat) share it. Inferences of the two sessions run at once (the metrics count the runs that started while
 * another was going), no frame runs twice, and each session gets the detections of its own picture in frame order.
 */
import { describe, expect, it } from 'vitest';
import { twoStreamRun, useTwoStreamServer } from '../../helpers/two-streams.js';

// A wide budget so that a slow machine drops no frame as late: what is under test is who gets what.
const setup = useTwoStreamServer({ MODEL_WORKERS: '2', LIVE_BATCH: 'off', LIVE_BUDGET_MS: '5000', INITIAL_TOKENS: '1000' });

describe('live sessions on a model in two workers', () => {
  it('runs frames of two sessions at once, each frame once, and gives each session its own detections in order', async () => {
    const { server: s, clips } = setup();
    const { processed, delta: d } = await twoStreamRun(s, clips);
    const health = (await (await fetch(`${s.url}/api/v1/health`)).json()) as { onnx: { workers: Record<string, number> } };
    expect(health.onnx.workers).toMatchObject({ nanodet: 2 });
    // One frame a run (no batching), every processed frame in exactly one run.
    expect(d('lookout_live_batch_size_count{model="nanodet"}')).toBe(processed);
    expect(d('lookout_live_batch_size_sum{model="nanodet"}')).toBe(processed);
    // With one worker this is 0 by construction: the scheduler starts a run only when none is going.
    expect(d('lookout_live_parallel_runs_total{model="nanodet"}')).toBeGreaterThan(0);
  });
});
