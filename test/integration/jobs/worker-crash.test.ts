/**
 * A worker process killed with SIGKILL halfway through a job: the queue hands the job to a new worker, the job
 * completes, and every item is charged exactly once (one charge per file key, total = the job's cost).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createDataset, getJob, inState, type Job, makeImages, expectJobReported, upload, waitForJob, watchJobs } from '../../helpers/datasets.js';
import { faceClipBytes } from '../../helpers/media.js';
import { ensureModels } from '../../helpers/onnx-setup.js';
import { spawnTs, type Spawned } from '../../helpers/process.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';

let s: TestServer;
let tmp: string;
const workers: Spawned[] = [];

beforeAll(async () => {
  await ensureModels();
  // No worker inside the server: jobs run only in the worker processes this test starts and kills.
  s = await startTestServer({ INITIAL_TOKENS: '1000', JOBS_INLINE_WORKER: 'false', JOBS_LOCK_MS: '2000' });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-crash-'));
}, 120_000);
afterEach(() => {
  for (const w of workers) w.kill('SIGKILL');
});
afterAll(async () => {
  await s?.close();
  await rm(tmp, { recursive: true, force: true });
});

function startWorker(): Spawned {
  const w = spawnTs('src/worker-main.ts', [], {
    DATABASE_URL: s.app.deps.config.databaseUrl,
    DATA_DIR: s.dataDir,
    JOBS_LOCK_MS: '2000',
    LOG_LEVEL: 'info',
    PRELOAD_MODELS: 'false',
  });
  workers.push(w);
  return w;
}

it('kill -9 of the worker halfway: a new worker completes the job and each item is charged once', async () => {
  const { token } = await signUp(s);
  const ds = await createDataset(s, token);
  const images = await makeImages(12);
  const clip = await faceClipBytes(tmp, { seconds: 4, width: 320, height: 240 });
  for (const [i, img] of images.entries()) {
    expect((await upload(s, token, ds.id, img.name, img.bytes)).status).toBe(201);
    if (i % 4 === 3) expect((await upload(s, token, ds.id, `clip${i}.mp4`, clip)).status).toBe(201);
  }
  // Status from the worker processes reaches the server's WebSocket clients (through PostgreSQL NOTIFY).
  const watcher = await watchJobs(s, token);

  const first = startWorker();
  const submitted = ((await (await s.call('POST', '/api/v1/jobs', { token, body: { datasetId: ds.id, model: 'nanodet' } })).json()) as { job: Job }).job;
  const total = submitted.progress.total; // 12 images + 3 × 120 frames
  expect(total).toBe(12 + 3 * 120);

  // Halfway: kill the worker without any chance to clean up.
  await waitForJob(s, token, submitted.id, (j) => j.progress.done >= total / 2, 120_000, () => first.output());
  first.kill('SIGKILL'); // the whole process group: tsx and the worker it runs
  await first.exited;
  const atKill = await getJob(s, token, submitted.id);
  expect(atKill.state).toBe('running');
  expect(atKill.progress.done).toBeLessThan(total);

  const second = startWorker();
  const end = await waitForJob(s, token, submitted.id, inState('completed', 'failed', 'cancelled'), 180_000, () => second.output());
  expect(end).toMatchObject({ state: 'completed', progress: { done: total, total }, tokensCharged: submitted.tokenCost });

  // Exactly once: one charge row per file, summing to the cost; the ledger shows the reservation and no refund.
  const db = s.app.database.db;
  const charges = await db.selectFrom('token_charges').selectAll().where('idempotency_key', 'like', `job:${submitted.id}:%`).execute();
  expect(charges).toHaveLength(15);
  expect(charges.reduce((n, c) => n + c.amount_milli, 0)).toBe(submitted.tokenCost * 1000);
  const ledger = await db.selectFrom('token_ledger').selectAll().where('ref', '=', `job:${submitted.id}`).execute();
  expect(ledger.reduce((n, e) => n + e.amount_milli, 0)).toBe(-submitted.tokenCost * 1000);
  const row = await db.selectFrom('jobs').select('attempts').where('id', '=', submitted.id).executeTakeFirstOrThrow();
  expect(row.attempts).toBeGreaterThanOrEqual(2);
  const res = (await (await s.call('GET', `/api/v1/jobs/${submitted.id}/results`, { token })).json()) as { files: { kind: string; frames?: unknown[] }[] };
  expect(res.files).toHaveLength(15);
  expect(res.files.filter((f) => f.kind === 'video').every((f) => f.frames?.length === 120)).toBe(true);
  second.kill('SIGTERM');
  await second.exited;

  await new Promise((r) => setTimeout(r, 300));
  watcher.close();
  expect(expectJobReported(watcher.events, submitted.id, { minSteps: 4, retried: true }).progress.total).toBe(total);
}, 300_000);
