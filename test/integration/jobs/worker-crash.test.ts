/**
 * A worker process killed with SIGKILL halfway through a job: the queue hands the job to a new worker, the job
 * completes, and every item is charged exactly once (one charge per file key, total = the job's cost).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createDataset, makeImages, upload } from '../../helpers/datasets.js';
import { makeFaceClip } from '../../helpers/media.js';
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

interface Job {
  id: string;
  state: string;
  progress: { done: number; total: number };
  tokenCost: number;
  tokensCharged: number;
}

async function job(token: string, id: string): Promise<Job> {
  return ((await (await s.call('GET', `/api/v1/jobs/${id}`, { token })).json()) as { job: Job }).job;
}

it('kill -9 of the worker halfway: a new worker completes the job and each item is charged once', async () => {
  const { token } = await signUp(s);
  const ds = await createDataset(s, token);
  const images = await makeImages(12);
  await makeFaceClip(path.join(tmp, 'a.mp4'), { seconds: 4, width: 320, height: 240 });
  const clip = await readFile(path.join(tmp, 'a.mp4'));
  for (const [i, img] of images.entries()) {
    expect((await upload(s, token, ds.id, img.name, img.bytes)).status).toBe(201);
    if (i % 4 === 3) expect((await upload(s, token, ds.id, `clip${i}.mp4`, clip)).status).toBe(201);
  }
  // Status from the worker processes reaches the server's WebSocket clients (through PostgreSQL NOTIFY).
  const ws = new WebSocket(s.url.replace('http', 'ws') + '/api/v1/ws', { headers: { authorization: `Bearer ${token}` } });
  const events: Job[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse((data as Buffer).toString('utf8')) as { type: string; job?: Job };
    if (m.type === 'job' && m.job) events.push(m.job);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ type: 'subscribe', topic: 'jobs' }));
  await new Promise((r) => setTimeout(r, 200));

  const first = startWorker();
  const submitted = ((await (await s.call('POST', '/api/v1/jobs', { token, body: { datasetId: ds.id, model: 'nanodet' } })).json()) as { job: Job }).job;
  const total = submitted.progress.total; // 12 images + 3 × 120 frames
  expect(total).toBe(12 + 3 * 120);

  // Halfway: kill the worker without any chance to clean up.
  const deadline = Date.now() + 120_000;
  let seen = await job(token, submitted.id);
  while (seen.progress.done < total / 2) {
    if (Date.now() > deadline) throw new Error(`no progress: ${JSON.stringify(seen)}\n${first.output()}`);
    await new Promise((r) => setTimeout(r, 100));
    seen = await job(token, submitted.id);
  }
  first.kill('SIGKILL'); // the whole process group: tsx and the worker it runs
  await first.exited;
  const atKill = await job(token, submitted.id);
  expect(atKill.state).toBe('running');
  expect(atKill.progress.done).toBeLessThan(total);

  const second = startWorker();
  let end = await job(token, submitted.id);
  while (!['completed', 'failed', 'cancelled'].includes(end.state)) {
    if (Date.now() > deadline + 60_000) throw new Error(`not finished: ${JSON.stringify(end)}\n${second.output()}`);
    await new Promise((r) => setTimeout(r, 250));
    end = await job(token, submitted.id);
  }
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
  ws.close();
  const mine = events.filter((e) => e.id === submitted.id);
  expect(mine.map((e) => e.state).filter((st, i, a) => i === 0 || a[i - 1] !== st)).toEqual(['queued', 'running', 'completed']);
  expect(mine.filter((e) => e.state === 'running' && e.progress.done > 0).length).toBeGreaterThanOrEqual(4);
  expect(mine.at(-1)).toMatchObject({ state: 'completed', progress: { done: total } });
}, 300_000);
