/**
 * Retention and repair on the real server: with RETENTION_RECORDINGS_DAYS=2 and RETENTION_RESULTS_DAYS=2 a sweep
 * (every second here) removes the recording and stored detections of a session that ended three days ago and
 * purges a job that finished three days ago, and keeps the same things from an hour ago. Then the two states a
 * crash can leave: files whose rows are gone (removed) and rows whose files are gone (mended). Counted in
 * /metrics and logged.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFile } from '../../src/live/client/stream.js';
import { createDataset, inState, makeImages, upload, waitForJob } from '../helpers/datasets.js';
import { makeFaceClip } from '../helpers/media.js';
import { ensureModels } from '../helpers/onnx-setup.js';
import { signUp, startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
let clip: string;

beforeAll(async () => {
  await ensureModels();
  s = await startTestServer({ PRELOAD_MODELS: 'true', INITIAL_TOKENS: '200', RETENTION_RECORDINGS_DAYS: '2', RETENTION_RESULTS_DAYS: '2', RETENTION_SWEEP_S: '1' });
  clip = path.join(s.dataDir, 'face.mp4');
  await makeFaceClip(clip, { seconds: 2, width: 320, height: 240, fps: 15 });
}, 120_000);
afterAll(async () => s?.close());

async function session(token: string): Promise<{ id: string; recording: string }> {
  const sum = await streamFile({ server: s.url, token, file: clip, codec: 'vp8', fps: 15, model: 'blazeface', record: true });
  const row = await s.app.deps.db.selectFrom('live_sessions').select('recording_path').where('id', '=', sum.sessionId).executeTakeFirstOrThrow();
  expect(row.recording_path && existsSync(row.recording_path)).toBeTruthy();
  return { id: sum.sessionId, recording: row.recording_path! };
}

async function job(token: string): Promise<{ id: string; dir: string }> {
  const ds = await createDataset(s, token);
  for (const img of await makeImages(2)) expect((await upload(s, token, ds.id, img.name, img.bytes)).status).toBe(201);
  const res = await s.call('POST', '/api/v1/jobs', { token, body: { datasetId: ds.id, model: 'blazeface' } });
  const id = ((await res.json()) as { job: { id: string } }).job.id;
  await waitForJob(s, token, id, inState('completed'));
  const dir = path.join(s.dataDir, 'jobs', id);
  expect(existsSync(dir)).toBe(true);
  return { id, dir };
}

const detections = async (id: string): Promise<number> =>
  Number((await s.app.deps.db.selectFrom('live_detections').select((eb) => eb.fn.countAll<string>().as('n')).where('session_id', '=', id).executeTakeFirstOrThrow()).n);

const removed = async (kind: string): Promise<number> => {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const m = new RegExp(`^lookout_retention_removed_total\\{kind="${kind}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};

describe('retention', () => {
  it('removes what is older than the window and nothing else', async () => {
    const { token } = await signUp(s);
    const [oldSession, newSession] = [await session(token), await session(token)];
    const [oldJob, newJob] = [await job(token), await job(token)];
    expect(await detections(oldSession.id)).toBeGreaterThan(0);
    const before = { recordings: await removed('recordings'), jobs: await removed('job_results'), frames: await removed('live_detections') };
    const { db } = s.app.deps;
    const days = (n: number): Date => new Date(Date.now() - n * 86_400_000);
    // Three days old against one hour old, with a 2-day window.
    await db.updateTable('live_sessions').set({ ended_at: days(3) }).where('id', '=', oldSession.id).execute();
    await db.updateTable('live_sessions').set({ ended_at: days(1 / 24) }).where('id', '=', newSession.id).execute();
    await db.updateTable('jobs').set({ finished_at: days(3) }).where('id', '=', oldJob.id).execute();
    await db.updateTable('jobs').set({ finished_at: days(1 / 24) }).where('id', '=', newJob.id).execute();
    const oldFrames = await detections(oldSession.id);
    await expect.poll(() => existsSync(oldSession.recording), { timeout: 10_000 }).toBe(false);
    await expect.poll(() => existsSync(oldJob.dir), { timeout: 10_000 }).toBe(false);
    await expect.poll(() => detections(oldSession.id), { timeout: 10_000 }).toBe(0);
    // The old session stays in the history, without its recording; the old job is gone.
    const old = (await (await s.call('GET', `/api/v1/live-sessions/${oldSession.id}`, { token })).json()) as { session: { hasRecording: boolean } };
    expect(old.session.hasRecording).toBe(false);
    expect((await s.call('GET', `/api/v1/jobs/${oldJob.id}`, { token })).status).toBe(404);
    // The recent ones are untouched.
    expect(existsSync(newSession.recording)).toBe(true);
    expect(await detections(newSession.id)).toBeGreaterThan(0);
    expect(existsSync(newJob.dir)).toBe(true);
    expect((await s.call('GET', `/api/v1/jobs/${newJob.id}/results`, { token })).status).toBe(200);
    expect(await removed('recordings')).toBe(before.recordings + 1);
    expect(await removed('job_results')).toBe(before.jobs + 1);
    expect(await removed('live_detections')).toBe(before.frames + oldFrames);
  }, 180_000);

  it('repairs what a crash leaves: files without rows go, rows whose file is missing stop pointing at it', async () => {
    const { token } = await signUp(s);
    const sess = await session(token);
    const other = await session(token);
    const done = await job(token);
    const kept = await job(token);
    const { db } = s.app.deps;
    const before = { orphans: await removed('orphan_files'), dangling: await removed('dangling_rows') };
    // A purge killed after its row delete (files left), and a session row deleted the same way.
    await sql`delete from jobs where id = ${done.id}`.execute(db);
    await sql`delete from live_sessions where id = ${sess.id}`.execute(db);
    // A recording and an annotated file lost outside Lookout (their rows remain).
    await rm(other.recording);
    const annotated = await db.selectFrom('job_files').select(['annotated_key', 'file_id']).where('job_id', '=', kept.id).execute();
    await rm(path.join(s.dataDir, annotated[0]!.annotated_key!));
    await expect.poll(() => existsSync(done.dir) || existsSync(sess.recording), { timeout: 10_000 }).toBe(false);
    await expect.poll(async () => (await db.selectFrom('live_sessions').select('recording_path').where('id', '=', other.id).executeTakeFirstOrThrow()).recording_path, { timeout: 10_000 }).toBeNull();
    await expect.poll(async () => (await db.selectFrom('job_files').select('annotated_key').where('job_id', '=', kept.id).where('file_id', '=', annotated[0]!.file_id).executeTakeFirstOrThrow()).annotated_key, { timeout: 10_000 }).toBeNull();
    // The rest of the kept job is untouched, and its results still read.
    expect(existsSync(kept.dir)).toBe(true);
    expect((await db.selectFrom('job_files').select('annotated_key').where('job_id', '=', kept.id).where('file_id', '=', annotated[1]!.file_id).executeTakeFirstOrThrow()).annotated_key).not.toBeNull();
    expect(await removed('orphan_files')).toBe(before.orphans + 2);
    expect(await removed('dangling_rows')).toBe(before.dangling + 2);
  }, 180_000);
});
