/**
 * Batching across live sessions, end to end: a real server with LIVE_BATCH=on runs two real WebRTC streams on
 * NanoDet (which takes a batch). One stream shows a face, the other a cat: batches form (the metrics say so),
 * every processed frame went through exactly one inference, and each session only ever gets detections of its
 * own picture, so results reach the session whose frame they came from.
 */
import { describe, expect, it } from 'vitest';
import { twoStreamRun, useTwoStreamServer } from '../../helpers/two-streams.js';

// The window is as wide as it goes, and the budget wider still, so that frames of both streams meet in one run
// however slow the machine is (a busy CI machine starves the streams: a narrow window then saw no batch at all).
const setup = useTwoStreamServer({ LIVE_BATCH: 'on', LIVE_BATCH_MAX_SIZE: '4', LIVE_BATCH_MAX_WAIT_MS: '1000', LIVE_BUDGET_MS: '5000', INITIAL_TOKENS: '1000' });

describe('live batching across sessions', () => {
  it('runs frames of two sessions as one inference and gives each session the detections of its own frames', async () => {
    const { server: s, clips } = setup();
    const { processed, delta: d } = await twoStreamRun(s, clips);
    const runs = d('lookout_live_batch_size_count{model="nanodet"}');
    const framesRun = d('lookout_live_batch_size_sum{model="nanodet"}');
    expect(framesRun).toBe(processed);
    expect(runs).toBeLessThan(processed); // some runs held frames of both sessions
    const sizes = `${runs} runs for ${framesRun} frames`;
    expect(d('lookout_live_batch_size_bucket{model="nanodet",le="1"}'), sizes).toBeLessThan(runs);
  });
});
