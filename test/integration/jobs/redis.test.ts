/**
 * REDIS_URL switches the job queue to Redis (the Redis 7 this machine runs; CI starts it when it is not up).
 * A job runs through it end to end and its status still reaches the WebSocket `jobs` topic.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDataset, inState, makeImages, stateSequence, upload, waitForJob, watchJobs } from '../../helpers/datasets.js';
import { ensureModels } from '../../helpers/onnx-setup.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const QUEUE = `lookout-test-${randomBytes(4).toString('hex')}`;
let s: TestServer;

beforeAll(async () => {
  await ensureModels();
  s = await startTestServer({ REDIS_URL, JOBS_QUEUE: QUEUE });
}, 120_000);
afterAll(async () => {
  await s?.close();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`bull:${QUEUE}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

it('runs a job through a Redis queue and reports it on the WebSocket', async () => {
  const health = (await (await s.call('GET', '/api/v1/health')).json()) as { queue: { backend: string; ok: boolean } };
  expect(health.queue).toMatchObject({ backend: 'redis', ok: true });
  const { token } = await signUp(s);
  const ds = await createDataset(s, token);
  for (const img of await makeImages(4)) expect((await upload(s, token, ds.id, img.name, img.bytes)).status).toBe(201);

  const watcher = await watchJobs(s, token);

  const r = await s.call('POST', '/api/v1/jobs', { token, body: { datasetId: ds.id, model: 'blazeface' } });
  expect(r.status).toBe(202);
  const id = ((await r.json()) as { job: { id: string } }).job.id;
  const redis = new Redis(REDIS_URL);
  try {
    // The entry really went through Redis: BullMQ keeps its keys under bull:<queue>:
    expect((await redis.keys(`bull:${QUEUE}:*`)).length).toBeGreaterThan(0);
  } finally {
    redis.disconnect();
  }
  const job = await waitForJob(s, token, id, inState('completed', 'failed', 'cancelled'), 60_000);
  expect(job).toMatchObject({ state: 'completed', tokensCharged: 3 });
  await new Promise((res) => setTimeout(res, 300));
  watcher.close();
  expect(stateSequence(watcher.events, id)).toEqual(['queued', 'running', 'completed']);
}, 120_000);
