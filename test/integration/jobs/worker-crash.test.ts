/**
 * A worker process killed with SIGKILL halfway through a job: the queue hands the job to a new worker, the job
 * completes, and every item is charged exactly once (one charge per file key, total = the job's cost). Killed in
 * the middle of a batch of images, only the batch not committed is done again.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createDataset, getJob, inState, type Job, makeImages, expectJobReported, upload, waitForJob, watchJobs } from '../../helpers/datasets.js';
import { faceClipBytes } from '../../helpers/media.js';
import { ensureModels } from '../../helpers/onnx-setup.js';
import { spawnTs, type Spawned } from '../../helpers/process.js';
import { makeZip } from '../../helpers/zip.js';
import { BATCH_FILES } from '../../../src/jobs/images.js';
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

it('kill -9 in the middle of a batch of images: committed batches are not done again, the rest is done and charged once', async () => {
  const { token } = await signUp(s);
  const ds = await createDataset(s, token);
  const images = await makeImages(64);
  expect((await upload(s, token, ds.id, 'images.zip', makeZip(images.map((i) => ({ name: i.name, data: i.bytes }))))).status).toBe(201);
  const first = startWorker();
  const submitted = ((await (await s.call('POST', '/api/v1/jobs', { token, body: { datasetId: ds.id, model: 'nanodet' } })).json()) as { job: Job }).job;
  expect(submitted.progress.total).toBe(64);

  // As soon as a first batch is committed, the next one is being decoded, detected and written: kill then.
  await waitForJob(s, token, submitted.id, (j) => j.progress.done >= BATCH_FILES, 120_000, () => first.output());
  first.kill('SIGKILL');
  await first.exited;
  const db = s.app.database.db;
  const doneAtKill = await db.selectFrom('job_files').select(['file_id', 'annotated_key']).where('job_id', '=', submitted.id).where('state', '=', 'done').execute();
  // Committed in whole batches, and not everything.
  expect(doneAtKill.length % BATCH_FILES).toBe(0);
  expect(doneAtKill.length).toBeGreaterThanOrEqual(BATCH_FILES);
  expect(doneAtKill.length).toBeLessThan(64);
  const written = new Map(await Promise.all(doneAtKill.map(async (f) => [f.file_id, (await stat(path.join(s.dataDir, f.annotated_key!))).mtimeMs] as const)));

  const second = startWorker();
  const end = await waitForJob(s, token, submitted.id, inState('completed', 'failed', 'cancelled'), 180_000, () => second.output());
  expect(end).toMatchObject({ state: 'completed', progress: { done: 64, total: 64 }, tokensCharged: submitted.tokenCost });
  // What was committed before the kill was not done again: same annotated files, untouched.
  for (const [fileId, mtime] of written) {
    const row = await db.selectFrom('job_files').select('annotated_key').where('job_id', '=', submitted.id).where('file_id', '=', fileId).executeTakeFirstOrThrow();
    expect((await stat(path.join(s.dataDir, row.annotated_key!))).mtimeMs).toBe(mtime);
  }
  // Every image charged once; the ledger agrees; every image has its results and its annotated JPEG.
  const charges = await db.selectFrom('token_charges').selectAll().where('idempotency_key', 'like', `job:${submitted.id}:%`).execute();
  expect(charges).toHaveLength(64);
  expect(charges.reduce((n, c) => n + c.amount_milli, 0)).toBe(submitted.tokenCost * 1000);
  const ledger = await db.selectFrom('token_ledger').selectAll().where('ref', '=', `job:${submitted.id}`).execute();
  expect(ledger.reduce((n, e) => n + e.amount_milli, 0)).toBe(-submitted.tokenCost * 1000);
  const rows = await db.selectFrom('job_files').select(['state', 'annotated_key']).where('job_id', '=', submitted.id).execute();
  expect(rows.every((r) => r.state === 'done' && r.annotated_key)).toBe(true);
  expect((await readdir(path.join(s.dataDir, 'jobs', submitted.id))).sort()).toEqual(rows.map((r) => path.basename(r.annotated_key!)).sort());
  second.kill('SIGTERM');
  await second.exited;
}, 300_000);
