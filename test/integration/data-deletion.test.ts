/**
 * Letting data go, on the real server: an ended live session is deleted with its recording (409 while it is live,
 * 404 for someone else's), a finished job is purged with its results and annotated files (409 while it runs), and
 * GET /me/usage counts what is kept before and after.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFile } from '../../src/live/client/stream.js';
import { createDataset, inState, type Job, upload, waitForJob } from '../helpers/datasets.js';
import { makeFaceClip } from '../helpers/media.js';
import { ensureModels, FIXTURES } from '../helpers/onnx-setup.js';
import { signUp, startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
let clip: string;

interface Usage {
  storageBytes: { uploads: number; results: number; recordings: number };
  liveSessions: number;
  jobs: number;
}

beforeAll(async () => {
  await ensureModels();
  s = await startTestServer({ PRELOAD_MODELS: 'true', INITIAL_TOKENS: '200' });
  clip = path.join(s.dataDir, 'face.mp4');
  await makeFaceClip(clip, { seconds: 4, width: 320, height: 240, fps: 15 });
}, 120_000);
afterAll(async () => s?.close());

const usage = async (token: string): Promise<Usage> => (await (await s.call('GET', '/api/v1/me/usage', { token })).json()) as Usage;

describe('deleting and purging', () => {
  it('an ended live session goes with its recording; a live one is 409; another user gets 404', async () => {
    const u = await signUp(s);
    let sessionId: string | undefined;
    let whileLive: number | undefined;
    const sum = await streamFile({
      server: s.url, token: u.token, file: clip, codec: 'vp8', fps: 15, model: 'blazeface', record: true,
      onMessage: (m) => {
        if (m.type !== 'detections' || sessionId) return;
        sessionId = m.sessionId;
        void s.call('DELETE', `/api/v1/live-sessions/${sessionId}`, { token: u.token }).then((r) => (whileLive = r.status));
      },
    });
    await expect.poll(() => whileLive).toBe(409);
    const rec = (await (await s.call('GET', `/api/v1/live-sessions/${sum.sessionId}`, { token: u.token })).json()) as { session: { hasRecording: boolean } };
    expect(rec.session.hasRecording).toBe(true);
    const before = await usage(u.token);
    expect(before.liveSessions).toBe(1);
    expect(before.storageBytes.recordings).toBeGreaterThan(1000);
    const recording = path.join(s.dataDir, 'recordings', `${sum.sessionId}.webm`); // VP8 is recorded as WebM
    expect(existsSync(recording)).toBe(true);

    const other = await signUp(s);
    expect((await s.call('DELETE', `/api/v1/live-sessions/${sum.sessionId}`, { token: other.token })).status).toBe(404);
    expect((await s.call('DELETE', `/api/v1/live-sessions/${sum.sessionId}`, { token: u.token })).status).toBe(204);
    expect(existsSync(recording)).toBe(false);
    expect((await s.call('GET', `/api/v1/live-sessions/${sum.sessionId}`, { token: u.token })).status).toBe(404);
    expect((await s.call('DELETE', `/api/v1/live-sessions/${sum.sessionId}`, { token: u.token })).status).toBe(404);
    expect(await usage(u.token)).toMatchObject({ liveSessions: 0, storageBytes: { recordings: 0 } });
  });

  it('a finished job is purged with its results and annotated files; usage follows', async () => {
    const u = await signUp(s);
    const ds = await createDataset(s, u.token);
    const photo = await readFile(path.join(FIXTURES, 'astronaut.jpg'));
    expect((await upload(s, u.token, ds.id, 'astronaut.jpg', photo)).status).toBe(201);
    const job = ((await (await s.call('POST', '/api/v1/jobs', { token: u.token, body: { datasetId: ds.id, model: 'blazeface' } })).json()) as { job: Job }).job;
    await waitForJob(s, u.token, job.id, inState('completed'));
    const before = await usage(u.token);
    expect(before).toMatchObject({ jobs: 1, storageBytes: { uploads: photo.length } });
    expect(before.storageBytes.results).toBeGreaterThan(1000);
    const dir = path.join(s.dataDir, 'jobs', job.id);
    expect(existsSync(dir)).toBe(true);

    expect((await s.call('DELETE', `/api/v1/jobs/${job.id}?purge=maybe`, { token: u.token })).status).toBe(400);
    expect((await s.call('DELETE', `/api/v1/jobs/${job.id}?purge=true`, { token: u.token })).status).toBe(204);
    expect(existsSync(dir)).toBe(false);
    expect((await s.call('GET', `/api/v1/jobs/${job.id}/results`, { token: u.token })).status).toBe(404);
    expect(await usage(u.token)).toMatchObject({ jobs: 0, storageBytes: { uploads: photo.length, results: 0 } });
    // The ledger keeps what the job was charged.
    const ledger = ((await (await s.call('GET', '/api/v1/tokens/ledger', { token: u.token })).json()) as { entries: { ref: string | null; amount: number }[] }).entries;
    expect(ledger.filter((e) => e.ref === `job:${job.id}`).reduce((n, e) => n + e.amount, 0)).toBe(-0.75);
  });

  it('a queued or running job cannot be purged (409), and is still there', async () => {
    const u = await signUp(s);
    const ds = await createDataset(s, u.token);
    const video = await readFile(clip);
    expect((await upload(s, u.token, ds.id, 'face.mp4', video)).status).toBe(201);
    const job = ((await (await s.call('POST', '/api/v1/jobs', { token: u.token, body: { datasetId: ds.id, model: 'nanodet' } })).json()) as { job: Job }).job;
    const r = await s.call('DELETE', `/api/v1/jobs/${job.id}?purge=true`, { token: u.token });
    expect(r.status).toBe(409);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('CONFLICT');
    expect((await s.call('GET', `/api/v1/jobs/${job.id}`, { token: u.token })).status).toBe(200);
    await waitForJob(s, u.token, job.id, inState('completed', 'failed', 'cancelled'));
  });
});
