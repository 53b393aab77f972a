/**
 * GET /metrics after real work: a live session (real WebRTC stream, real decoder, BlazeFace) and a job (real
 * queue, worker, ffmpeg). The counters must move by exactly what the session and the job report.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { streamFile } from '../../src/live/client/stream.js';
import { createDataset, makeImages, upload, waitForJob, inState, type Job } from '../helpers/datasets.js';
import { useLiveServer } from '../helpers/live.js';
import { metricDelta, parseMetrics } from '../helpers/metrics.js';
import { signUp, type TestServer } from '../helpers/server.js';

const live = useLiveServer({ clipSeconds: 5, env: { INITIAL_TOKENS: '1000' } });
let s: TestServer;
let clip: string;

beforeAll(() => {
  ({ server: s, clip } = live());
});

async function scrape(headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const res = await s.call('GET', '/metrics', { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

describe('GET /metrics', () => {
  it('counts a live session and a job by exactly what they did', async () => {
    const u = await signUp(s);
    const before = await scrape();

    // ---- a live session
    const sum = await streamFile({ server: s.url, token: u.token, file: clip, codec: 'vp8', fps: 30, model: 'blazeface', record: false, durationS: 4 });
    expect(sum.errors).toEqual([]);
    const st = sum.ended!.stats;
    expect(st.framesProcessed).toBeGreaterThan(0);

    // ---- a job: 3 images
    const ds = await createDataset(s, u.token);
    for (const img of await makeImages(3)) expect((await upload(s, u.token, ds.id, img.name, img.bytes)).status).toBe(201);
    const submitted = await s.call('POST', '/api/v1/jobs', { token: u.token, body: { datasetId: ds.id, model: 'blazeface' } });
    expect(submitted.status).toBe(202);
    const { job } = (await submitted.json()) as { job: Job };
    await waitForJob(s, u.token, job.id, inState('completed'));
    // The job is completed in the database a moment before the worker records its duration: wait for that.
    const finished = 'lookout_job_duration_seconds_count{model="blazeface",state="completed"}';
    await expect.poll(async () => metricDelta(before, await scrape(), finished), { timeout: 10_000 }).toBe(1);

    const after = await scrape();
    const d = (key: string): number => metricDelta(before, after, key);
    const m = '{model="blazeface"}';
    expect(d(`lookout_live_frames_received_total${m}`)).toBe(st.framesIn);
    expect(d(`lookout_live_frames_processed_total${m}`)).toBe(st.framesProcessed);
    expect(d('lookout_live_frames_dropped_total{model="blazeface",reason="stale"}')).toBe(st.droppedStale);
    expect(d('lookout_live_frames_dropped_total{model="blazeface",reason="late"}')).toBe(st.droppedLate);
    expect(d('lookout_live_frames_dropped_total{model="blazeface",reason="other"}')).toBe(st.droppedOther);
    for (const stage of ['queue', 'decode', 'infer', 'total']) {
      expect(d(`lookout_live_frame_stage_seconds_count{model="blazeface",stage="${stage}"}`)).toBe(st.framesProcessed);
    }
    // The total stage's sum is the latency the session measured, frame by frame (ms → s, rounding aside).
    expect(d('lookout_live_frame_stage_seconds_sum{model="blazeface",stage="total"}')).toBeGreaterThan(0);
    expect(d('lookout_live_sessions_started_total{model="blazeface",via="ws"}')).toBe(1);
    expect(d('lookout_live_sessions_ended_total{model="blazeface",reason="stopped"}')).toBe(1);
    expect(after.get('lookout_live_sessions_active')).toBe(0);

    expect(d('lookout_tokens_charged_total{kind="live"}')).toBeCloseTo(st.tokensCharged, 6);
    expect(d('lookout_tokens_charged_total{kind="image"}')).toBeCloseTo(3 * 0.75, 6);
    expect(d('lookout_job_items_total{model="blazeface",kind="image"}')).toBe(3);
    expect(d('lookout_job_item_duration_seconds_count{model="blazeface",kind="image"}')).toBe(3);
    expect(d('lookout_job_duration_seconds_count{model="blazeface",state="completed"}')).toBe(1);
    expect(d('lookout_jobs{state="completed"}')).toBe(1);
    expect(after.get('lookout_jobs{state="running"}')).toBe(0);
    expect(after.has('lookout_queue_jobs{state="wait"}')).toBe(true);

    // HTTP requests by route pattern and status: the three uploads and the job submission.
    expect(d('lookout_http_requests_total{method="POST",route="/api/v1/datasets/:id/files",status="201"}')).toBe(3);
    expect(d('lookout_http_requests_total{method="POST",route="/api/v1/jobs",status="202"}')).toBe(1);
    expect(d('lookout_http_request_duration_seconds_count{method="POST",route="/api/v1/jobs"}')).toBe(1);
    // Process metrics come along.
    expect(after.get('lookout_process_resident_memory_bytes')).toBeGreaterThan(0);
  }, 120_000);

  it('with METRICS_TOKEN set, /metrics needs it', async () => {
    const { startTestServer } = await import('../helpers/server.js');
    const guarded = await startTestServer({ METRICS_TOKEN: 'scrape-me-please' });
    try {
      expect((await guarded.call('GET', '/metrics')).status).toBe(401);
      expect((await guarded.call('GET', '/metrics', { token: 'wrong-token-here' })).status).toBe(401);
      const ok = await guarded.call('GET', '/metrics', { token: 'scrape-me-please' });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('lookout_http_requests_total{method="GET",route="/metrics",status="401"} 2');
    } finally {
      await guarded.close();
    }
  });
});
