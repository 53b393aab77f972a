/**
 * Batch jobs end to end on real parts: BullMQ on PostgreSQL, the in-server worker, ffmpeg, the detector, the
 * ledger and the WebSocket `jobs` topic.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset, inState, type Job, makeImages, expectJobReported, upload, waitForJob, watchJobs } from '../../helpers/datasets.js';
import { faceClipBytes } from '../../helpers/media.js';
import { ensureModels } from '../../helpers/onnx-setup.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';
import { makeZip } from '../../helpers/zip.js';

let s: TestServer;
let tmp: string;
let zip: Buffer;
let video: Buffer;

beforeAll(async () => {
  await ensureModels();
  s = await startTestServer({ INITIAL_TOKENS: '500', PRELOAD_MODELS: 'true' });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-jobs-'));
  const images = await makeImages(20);
  zip = makeZip(images.map((i) => ({ name: `photos/${i.name}`, data: i.bytes })));
  video = await faceClipBytes(tmp, { seconds: 5, width: 320, height: 240 });
}, 180_000);
afterAll(async () => {
  await s?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('jobs', () => {
  it('a zip of 20 images plus a 150-frame video: completes, charges 90, results and annotated outputs, live status in order', async () => {
    const { token, user } = await signUp(s);
    const ds = await createDataset(s, token);
    expect((await upload(s, token, ds.id, 'photos.zip', zip)).status).toBe(201);
    const up = await upload(s, token, ds.id, 'face.mp4', video);
    expect(((await up.json()) as { dataset: { tokenCost: number } }).dataset.tokenCost).toBe(90);
    const watcher = await watchJobs(s, token);

    const sub = await s.call('POST', '/api/v1/jobs', { token, body: { datasetId: ds.id, model: 'blazeface' } });
    expect(sub.status).toBe(202);
    const submitted = ((await sub.json()) as { job: Job }).job;
    expect(submitted).toMatchObject({ state: 'queued', progress: { done: 0, total: 170 }, tokenCost: 90, tokensCharged: 0 });
    const done = await waitForJob(s, token, submitted.id, inState('completed', 'failed', 'cancelled'));
    expect(done).toMatchObject({ state: 'completed', progress: { done: 170, total: 170 }, tokensCharged: 90 });
    expect(done.error).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    watcher.close();

    // WebSocket: queued, running, progress that never goes back, completed, in that order.
    expect(expectJobReported(watcher.events, submitted.id, { minSteps: 2 })).toMatchObject({ progress: { total: 170 }, tokensCharged: 90 });

    // Ledger: 90 reserved at submission, nothing refunded, balance 500 - 90.
    const ledger = ((await (await s.call('GET', '/api/v1/tokens/ledger', { token })).json()) as { entries: { amount: number; reason: string; ref: string | null }[] }).entries;
    const forJob = ledger.filter((e) => e.ref === `job:${submitted.id}`);
    expect(forJob.reduce((n, e) => n + e.amount, 0)).toBe(-90);
    expect(((await (await s.call('GET', '/api/v1/tokens', { token })).json()) as { balance: number }).balance).toBe(500 - 90);
    expect(user.balance).toBe(500);

    // Results: 20 images with objects, one video with 150 frame entries; the face is found in the video.
    const res = (await (await s.call('GET', `/api/v1/jobs/${submitted.id}/results`, { token })).json()) as {
      files: { fileId: string; name: string; kind: string; objects?: unknown[]; frames?: { index: number; objects: unknown[] }[]; annotatedUrl: string }[];
    };
    const imgs = res.files.filter((f) => f.kind === 'image');
    const vids = res.files.filter((f) => f.kind === 'video');
    expect(imgs).toHaveLength(20);
    expect(imgs.every((f) => Array.isArray(f.objects))).toBe(true);
    expect(imgs.filter((f) => f.name.endsWith('00.jpg'))[0]!.objects!.length).toBeGreaterThan(0); // the astronaut's face
    expect(vids).toHaveLength(1);
    expect(vids[0]!.frames!.map((f) => f.index)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(vids[0]!.frames!.filter((f) => f.objects.length > 0).length).toBeGreaterThan(120);

    const img = await s.call('GET', imgs[0]!.annotatedUrl, { token });
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/jpeg');
    const mp4 = await s.call('GET', vids[0]!.annotatedUrl, { token });
    expect(mp4.headers.get('content-type')).toBe('video/mp4');
    const mp4Path = path.join(tmp, 'annotated.mp4');
    await (await import('node:fs/promises')).writeFile(mp4Path, Buffer.from(await mp4.arrayBuffer()));
    const { countFrames } = await import('../../helpers/media.js');
    expect(await countFrames(mp4Path)).toBe(150);

    // Someone else sees none of it.
    const stranger = (await signUp(s)).token;
    for (const p of [`/api/v1/jobs/${submitted.id}`, `/api/v1/jobs/${submitted.id}/results`, imgs[0]!.annotatedUrl, vids[0]!.annotatedUrl]) {
      expect([p, (await s.call('GET', p, { token: stranger })).status]).toEqual([p, 404]);
    }
    expect((await s.call('DELETE', `/api/v1/jobs/${submitted.id}`, { token: stranger })).status).toBe(404);
    expect((await s.call('POST', '/api/v1/jobs', { token: stranger, body: { datasetId: ds.id } })).status).toBe(404);
  }, 240_000);

  it('402 and nothing queued when the balance is below the cost', async () => {
    const { token } = await signUp(s);
    const ds = await createDataset(s, token);
    for (let i = 0; i < 7; i++) expect((await upload(s, token, ds.id, `face${i}.mp4`, video)).status).toBe(201); // 7 × 75 = 525 > 500
    const r = await s.call('POST', '/api/v1/jobs', { token, body: { datasetId: ds.id } });
    expect(r.status).toBe(402);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('INSUFFICIENT_TOKENS');
    expect(((await (await s.call('GET', '/api/v1/jobs', { token })).json()) as { jobs: unknown[] }).jobs).toEqual([]);
    expect(((await (await s.call('GET', '/api/v1/tokens', { token })).json()) as { balance: number }).balance).toBe(500);
  }, 60_000);

  it('cancelling a running job stops it, charges only what was done and returns the rest', async () => {
    const { token } = await signUp(s);
    const ds = await createDataset(s, token);
    for (let i = 0; i < 4; i++) await upload(s, token, ds.id, `face${i}.mp4`, video);
    const job = ((await (await s.call('POST', '/api/v1/jobs', { token, body: { datasetId: ds.id, model: 'nanodet' } })).json()) as { job: Job }).job;
    await waitForJob(s, token, job.id, inState('running'));
    const c = await s.call('DELETE', `/api/v1/jobs/${job.id}`, { token });
    expect(c.status).toBe(202);
    const cancelled = ((await c.json()) as { job: Job }).job;
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.tokensCharged).toBeLessThan(300);
    await new Promise((r) => setTimeout(r, 1500)); // the worker notices within a progress tick
    const after = await waitForJob(s, token, job.id, inState('cancelled'));
    expect(after.tokensCharged).toBe(cancelled.tokensCharged);
    const balance = ((await (await s.call('GET', '/api/v1/tokens', { token })).json()) as { balance: number }).balance;
    expect(balance).toBe(500 - after.tokensCharged);
    expect((await s.call('DELETE', `/api/v1/jobs/${job.id}`, { token })).status).toBe(409);
  }, 120_000);
});
