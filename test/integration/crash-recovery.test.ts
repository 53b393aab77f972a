/**
 * What a crash leaves behind (hostile review, defects 5 and 9), against the real server process killed with
 * SIGKILL (what the OOM killer does) and started again on the same database and data folder:
 * - a recorded live session keeps a playable recording of what was streamed, linked to the session, and the
 *   session is closed and settled at the restart, not a minute later;
 * - an upload cut off by the kill leaves no temporary file once the server has started again;
 * - a purge killed after its row delete, with files still going, leaves no folder without a job once the server
 *   has started again (its start-up sweep).
 */
import http from 'node:http';
import { existsSync } from 'node:fs';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { streamFile } from '../../src/live/client/stream.js';
import { makeImages } from '../helpers/datasets.js';
import { countFrames } from '../helpers/media.js';
import { freePort, type Spawned } from '../helpers/process.js';
import { signUpOn, useProcessFixture, type ProcessFixture } from '../helpers/process-fixture.js';

const fixture = useProcessFixture({ prefix: 'crash', clipSeconds: 30 });
let database: ProcessFixture['database'];
let tmp: string;
let clip: string;
beforeAll(() => {
  ({ database, tmp, clip } = fixture());
});

const start = async (port: number): Promise<Spawned> => (await fixture().serve({}, port)).proc;

async function signUp(url: string): Promise<{ token: string; userId: string }> {
  const { token, user } = await signUpOn(url, 'crash');
  return { token, userId: user.id };
}

describe('after a SIGKILL', () => {
  it('a recorded live session keeps a playable recording of what was streamed, and is closed and settled at the restart', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const first = await start(port);
    const { token, userId } = await signUp(url);
    let firstAt = 0;
    const streaming = streamFile({
      server: url, token, file: clip, codec: 'vp8', fps: 30, model: 'blazeface', record: true, durationS: 30,
      onMessage: (m) => {
        if (m.type === 'detections' && firstAt === 0) firstAt = Date.now();
      },
    }).catch((err: unknown) => err); // the server dies under it
    await expect.poll(() => firstAt, { timeout: 150_000 }).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 8000 - (Date.now() - firstAt)));
    first.kill('SIGKILL');
    await first.exited;
    await streaming;

    await start(port);
    // Closed by the start itself: this server's own sessions cannot still be running.
    const row = await database.db.selectFrom('live_sessions').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ state: 'ended', end_reason: 'error' });
    const holds = await database.db.selectFrom('token_reservations').selectAll().where('ref', '=', `live:${row.id}`).execute();
    for (const h of holds) expect(Number(h.held_milli) - h.charged_milli - h.refunded_milli).toBe(0);

    const pub = (await (await fetch(`${url}/api/v1/live-sessions/${row.id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { session: { hasRecording: boolean; state: string } };
    expect(pub.session).toMatchObject({ state: 'ended', hasRecording: true });
    const rec = await fetch(`${url}/api/v1/live-sessions/${row.id}/recording`, { headers: { authorization: `Bearer ${token}` } });
    expect(rec.status).toBe(200);
    const file = path.join(tmp, 'downloaded.webm');
    await writeFile(file, Buffer.from(await rec.arrayBuffer()));
    const frames = await countFrames(file);
    expect(frames / 30, `${frames} frames`).toBeGreaterThanOrEqual(6);
  }, 300_000);

  it('an upload cut off by the kill leaves no temporary file after the restart', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const first = await start(port);
    const { token } = await signUp(url);
    const ds = (await (await fetch(`${url}/api/v1/datasets`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'cut' }) })).json()) as { dataset: { id: string } };
    const dir = path.join(tmp, 'data', 'datasets', ds.dataset.id);
    const boundary = 'x-boundary-x';
    const req = http.request(`${url}/api/v1/datasets/${ds.dataset.id}/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
    });
    req.on('error', () => undefined);
    req.write(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.jpg"\r\ncontent-type: image/jpeg\r\n\r\n`);
    req.write(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(6 * 1024 * 1024, 7)]));
    const parts = async (): Promise<string[]> => (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.part'));
    await expect.poll(parts, { timeout: 30_000 }).toHaveLength(1);
    first.kill('SIGKILL');
    await first.exited;
    req.destroy();
    const [left] = await parts();
    expect(left).toMatch(/^\.upload-.*\.part$/); // what the kill leaves behind
    // Nothing writes to it any more; make it look as old as it will be a while after the crash.
    const old = new Date(Date.now() - 5 * 60_000);
    await utimes(path.join(dir, left!), old, old);

    const second = await start(port);
    expect(await parts()).toEqual([]);
    expect(second.output()).toContain('removed temporary upload files left by an interrupted upload');
  }, 300_000);

  it('a SIGKILL in the middle of a purge leaves a consistent state once the server is back: no folder without its job, the other job whole', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const first = await start(port);
    const { token } = await signUp(url);
    const auth = { authorization: `Bearer ${token}` };
    const runJob = async (): Promise<string> => {
      const ds = (await (await fetch(`${url}/api/v1/datasets`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: `p${Math.random()}` }) })).json()) as { dataset: { id: string } };
      const [img] = await makeImages(1);
      const form = new FormData();
      form.append('file', new Blob([img!.bytes]), img!.name);
      expect((await fetch(`${url}/api/v1/datasets/${ds.dataset.id}/files`, { method: 'POST', headers: auth, body: form })).status).toBe(201);
      const job = (await (await fetch(`${url}/api/v1/jobs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ datasetId: ds.dataset.id, model: 'blazeface' }) })).json()) as { job: { id: string } };
      await expect.poll(async () => ((await (await fetch(`${url}/api/v1/jobs/${job.job.id}`, { headers: auth })).json()) as { job: { state: string } }).job.state, { timeout: 120_000 }).toBe('completed');
      return job.job.id;
    };
    const purged = await runJob();
    const kept = await runJob();
    const dirOf = (id: string): string => path.join(tmp, 'data', 'jobs', id);
    // A folder big enough that removing it takes a while: the kill lands after the row is gone, while files go.
    await Promise.all(Array.from({ length: 5000 }, (_, i) => writeFile(path.join(dirOf(purged), `filler-${i}.jpg`), 'x')));
    const keptFiles = (await readdir(dirOf(kept))).sort();
    void fetch(`${url}/api/v1/jobs/${purged}?purge=true`, { method: 'DELETE', headers: auth }).catch(() => undefined);
    // Kill as soon as the purge has deleted the row (it deletes rows first, then files).
    await expect.poll(async () => (await database.db.selectFrom('jobs').select('id').where('id', '=', purged).executeTakeFirst()) === undefined, { timeout: 30_000, interval: 1 }).toBe(true);
    first.kill('SIGKILL');
    await first.exited;
    const leftAtKill = (await readdir(dirOf(purged)).catch(() => [] as string[])).length;
    expect(leftAtKill, 'the kill came before the purge had removed the files').toBeGreaterThan(0);

    const second = await start(port);
    // The start's sweep removes the folder that no job row points at; the other job is as it was.
    await expect.poll(() => existsSync(dirOf(purged)), { timeout: 30_000 }).toBe(false);
    expect((await readdir(dirOf(kept))).sort()).toEqual(keptFiles);
    expect((await fetch(`${url}/api/v1/jobs/${purged}`, { headers: auth })).status).toBe(404);
    const results = (await (await fetch(`${url}/api/v1/jobs/${kept}/results`, { headers: auth })).json()) as { files: { annotatedUrl: string | null }[] };
    for (const f of results.files) expect((await fetch(`${url}${f.annotatedUrl!}`, { headers: auth })).status).toBe(200);
    await expect.poll(() => second.output(), { timeout: 10_000 }).toContain('retention sweep removed data');
    expect(second.output()).toMatch(/"orphanFiles":1/);
  }, 300_000);
});
