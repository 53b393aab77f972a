/** Helpers for dataset and job tests: uploads through the real multipart route, generated media, disk checks, job status. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { FIXTURES } from './onnx-setup.js';
import type { TestServer } from './server.js';

export async function createDataset(s: TestServer, token: string, name = `ds-${Math.random().toString(36).slice(2, 8)}`): Promise<{ id: string; name: string }> {
  const r = await s.call('POST', '/api/v1/datasets', { token, body: { name } });
  if (r.status !== 201) throw new Error(`create dataset: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { dataset: { id: string; name: string } }).dataset;
}

/** POSTs `bytes` as the multipart field `file` (or `field`). */
export function upload(s: TestServer, token: string, datasetId: string, filename: string, bytes: Uint8Array, field = 'file'): Promise<Response> {
  const form = new FormData();
  form.append(field, new Blob([bytes]), filename);
  return fetch(`${s.url}/api/v1/datasets/${datasetId}/files`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
}

/** Every file under DATA_DIR/datasets and DATA_DIR/jobs (relative paths), to prove refusals leave nothing. */
export async function storedFiles(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const top of ['datasets', 'jobs']) {
    const root = path.join(dataDir, top);
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isFile()) out.push(path.relative(dataDir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

/** `n` different small JPEGs cut from the fixture photos (the face photo among them, so blazeface finds faces). */
export async function makeImages(n: number): Promise<{ name: string; bytes: Buffer }[]> {
  const photos = await Promise.all(['astronaut.jpg', 'chelsea.jpg', 'coffee.jpg', 'rocket.jpg'].map((f) => readFile(path.join(FIXTURES, f))));
  const out: { name: string; bytes: Buffer }[] = [];
  for (let i = 0; i < n; i++) {
    const size = 160 + (i % 5) * 40;
    const bytes = await sharp(photos[i % photos.length]).resize(size, size, { fit: 'cover' }).jpeg({ quality: 80 }).toBuffer();
    out.push({ name: `img-${String(i).padStart(2, '0')}.jpg`, bytes });
  }
  return out;
}

/** The contract's `job`, as far as tests look at it. */
export interface Job {
  id: string;
  state: string;
  progress: { done: number; total: number };
  tokenCost: number;
  tokensCharged: number;
  error?: string;
}

export async function getJob(s: TestServer, token: string, id: string): Promise<Job> {
  return ((await (await s.call('GET', `/api/v1/jobs/${id}`, { token })).json()) as { job: Job }).job;
}

/** Polls the job until `until(job)` holds; throws with `context()` after `ms`. */
export async function waitForJob(s: TestServer, token: string, id: string, until: (j: Job) => boolean, ms = 120_000, context = (): string => ''): Promise<Job> {
  const end = Date.now() + ms;
  for (;;) {
    const job = await getJob(s, token, id);
    if (until(job)) return job;
    if (Date.now() > end) throw new Error(`job ${id} still ${job.state} (${JSON.stringify(job.progress)})\n${context()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const inState =
  (...states: string[]) =>
  (j: Job): boolean =>
    states.includes(j.state);

/** A WebSocket subscribed to `jobs`, collecting every `job` message in order. */
export async function watchJobs(s: Pick<TestServer, 'url'>, token: string): Promise<{ events: Job[]; close: () => void }> {
  const ws = new WebSocket(s.url.replace('http', 'ws') + '/api/v1/ws', { headers: { authorization: `Bearer ${token}` } });
  const events: Job[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse((data as Buffer).toString('utf8')) as { type: string; job?: Job };
    if (m.type === 'job' && m.job) events.push(m.job);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ type: 'subscribe', topic: 'jobs' }));
  await new Promise((r) => setTimeout(r, 200)); // the subscription is in place once the snapshot query ran
  return { events, close: () => ws.close() };
}

/** The states a job went through, each once, in the order the events told them. */
export function stateSequence(events: Job[], jobId: string): string[] {
  return events
    .filter((e) => e.id === jobId)
    .map((e) => e.state)
    .filter((st, i, a) => i === 0 || a[i - 1] !== st);
}

/**
 * What the WebSocket told of one job: `queued → running → completed`, at least `minSteps` distinct progress
 * values strictly between 0 and the total, progress that never goes back (unless `retried`: a worker died and
 * another redid a file), and a last event of the completed job at total/total. Returns that last event.
 */
export function expectJobReported(events: Job[], jobId: string, o: { minSteps: number; retried?: boolean }): Job {
  const mine = events.filter((e) => e.id === jobId);
  expect(stateSequence(events, jobId)).toEqual(['queued', 'running', 'completed']);
  const done = mine.map((e) => e.progress.done);
  if (!o.retried) expect(done).toEqual([...done].sort((a, b) => a - b));
  const last = mine.at(-1)!;
  const total = last.progress.total;
  expect(new Set(done.filter((d) => d > 0 && d < total)).size).toBeGreaterThanOrEqual(o.minSteps);
  expect(last).toMatchObject({ state: 'completed', progress: { done: total, total } });
  return last;
}
