/**
 * Several processes on one Redis and one PostgreSQL: two server processes (no worker inside) and one worker
 * process, each a real `node` process. A job submitted through the first server runs in the worker, and its
 * progress reaches a WebSocket client connected to the second server (job events travel by PostgreSQL
 * NOTIFY, the queue by Redis).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImages, expectJobReported, watchJobs, type Job } from '../helpers/datasets.js';
import { freePort, spawnNode, waitFor200, type Spawned } from '../helpers/process.js';
import { useProcessFixture, type ProcessFixture } from '../helpers/process-fixture.js';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const QUEUE = `lookout-scale-${randomBytes(4).toString('hex')}`;

const fixture = useProcessFixture({ prefix: 'scale' });
let database: ProcessFixture['database'];
let tmp: string;
/** Every process started here (the fixture kills them after the tests), for diagnostics. */
const procs: Spawned[] = [];
beforeAll(() => {
  ({ database, tmp } = fixture());
});

afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`bull:${QUEUE}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

/** What every process shares: the database, the queue, the data folder (uploads and results). */
const shared = (): Record<string, string | undefined> => ({
  DATABASE_URL: database.url,
  REDIS_URL,
  JOBS_QUEUE: QUEUE,
  DATA_DIR: path.join(tmp, 'data'),
  RECORDINGS_DIR: path.join(tmp, 'recordings'),
  INITIAL_TOKENS: '100',
  LOG_LEVEL: 'info',
  FFMPEG_PATH: process.env['FFMPEG_PATH'],
});

async function startServer(): Promise<string> {
  const port = await freePort();
  const p = spawnNode('src/main.ts', [], { ...shared(), PORT: String(port), HOST: '127.0.0.1', JOBS_INLINE_WORKER: 'false', PRELOAD_MODELS: 'false' });
  procs.push(fixture().track(p));
  const url = `http://127.0.0.1:${port}`;
  await waitFor200(`${url}/api/v1/health`, 60_000, p);
  return url;
}

describe('two servers and a worker on Redis', () => {
  it("a job submitted through one server reports its progress to a WebSocket client of the other", async () => {
    const [a, b] = await Promise.all([startServer(), startServer()]);
    const heartbeat = path.join(tmp, 'worker.alive');
    const workerStartedAt = Date.now();
    const worker = spawnNode('src/worker-main.ts', [], { ...shared(), PRELOAD_MODELS: 'false', WORKER_HEARTBEAT_FILE: heartbeat });
    procs.push(fixture().track(worker));

    const json = { 'content-type': 'application/json' };
    const email = `scale-${Date.now()}@example.com`;
    const password = 'correct horse battery';
    expect((await fetch(`${a}/api/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, password }) })).status).toBe(201);
    // Signed in on B; the token works on A too (sessions live in the database).
    const { token } = (await (await fetch(`${b}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password }) })).json()) as { token: string };
    const auth = { authorization: `Bearer ${token}` };

    const ds = (await (await fetch(`${a}/api/v1/datasets`, { method: 'POST', headers: { ...auth, ...json }, body: JSON.stringify({ name: 'scale' }) })).json()) as { dataset: { id: string } };
    for (const img of await makeImages(24)) {
      const form = new FormData();
      form.append('file', new Blob([img.bytes]), img.name);
      expect((await fetch(`${a}/api/v1/datasets/${ds.dataset.id}/files`, { method: 'POST', headers: auth, body: form })).status).toBe(201);
    }

    const watcher = await watchJobs({ url: b }, token); // on the other server
    const submitted = await fetch(`${a}/api/v1/jobs`, { method: 'POST', headers: { ...auth, ...json }, body: JSON.stringify({ datasetId: ds.dataset.id, model: 'blazeface' }) });
    expect(submitted.status).toBe(202);
    const { job } = (await submitted.json()) as { job: Job };

    await expect
      .poll(() => watcher.events.some((e) => e.id === job.id && e.state === 'completed'), { timeout: 90_000, interval: 200 })
      .toBe(true)
      .catch((err: unknown) => {
        throw new Error(`${String(err)}\nevents: ${JSON.stringify(watcher.events.map((e) => [e.state, e.progress.done]))}\n${procs.map((p) => p.output().split('\n').filter((l) => /ws:|job|NOTIFY|listen/i.test(l)).slice(-30).join('\n')).join('\n-----\n')}`);
      });
    watcher.close();
    // Progress, batch by batch (8 images each), in order, to 24 of 24.
    expect(expectJobReported(watcher.events, job.id, { minSteps: 2 })).toMatchObject({ progress: { total: 24 }, tokensCharged: 18 });
    // The worker's heartbeat (for container health checks) was written by this worker, while it ran.
    expect(Number(await readFile(heartbeat, 'utf8'))).toBeGreaterThanOrEqual(workerStartedAt);
    // The worker did it (neither server runs jobs), through Redis (BullMQ keeps its keys under bull:<queue>:).
    expect(worker.output()).toContain(job.id);
    const redis = new Redis(REDIS_URL);
    try {
      expect((await redis.keys(`bull:${QUEUE}:*`)).length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  }, 180_000);
});
