/**
 * SIGTERM during a live session, against the real server process (`src/main.ts` in a process of its own, real
 * database, real WebRTC stream): the session ends as `stopped`, its recording is finalised and plays, its
 * tokens are settled, and the process exits 0 within SHUTDOWN_GRACE_MS.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { streamFile } from '../../src/live/client/stream.js';
import type { EndedMessage } from '../../src/live/messages.js';
import { countFrames } from '../helpers/media.js';
import { freePort, spawnNode, waitFor200, type Spawned } from '../helpers/process.js';
import { useProcessFixture, type ProcessFixture } from '../helpers/process-fixture.js';

const GRACE_MS = 8000;

const fixture = useProcessFixture({ prefix: 'shutdown', clipSeconds: 12 });
let database: ProcessFixture['database'];
let tmp: string;
let clip: string;
let server: Spawned | undefined;
beforeAll(() => {
  ({ database, tmp, clip } = fixture());
});

describe('SIGTERM', () => {
  it('ends a live session as stopped, with its recording and charges settled, and exits 0 within the grace period', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    server = fixture().track(spawnNode('src/main.ts', [], {
      DATABASE_URL: database.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: path.join(tmp, 'data'),
      RECORDINGS_DIR: path.join(tmp, 'recordings'),
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      INITIAL_TOKENS: '1000',
      LOG_LEVEL: 'info',
      FFMPEG_PATH: process.env['FFMPEG_PATH'],
    }));
    await waitFor200(`${url}/api/v1/health`, 60_000, server);
    const email = `sigterm-${Date.now()}@example.com`;
    const password = 'correct horse battery';
    expect((await fetch(`${url}/api/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) })).status).toBe(201);
    const login = (await (await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) })).json()) as { token: string; user: { id: string } };

    let detections = 0;
    let ended: EndedMessage | undefined;
    const streaming = streamFile({
      server: url, token: login.token, file: clip, codec: 'vp8', fps: 30, model: 'blazeface', record: true, durationS: 11,
      onMessage: (m) => {
        if (m.type === 'detections') detections++;
        if (m.type === 'live.ended') ended = m;
      },
    }).catch((err: unknown) => err); // the server goes away under it: how the client reports that is not the point
    // The client encodes its clip before it connects: on a loaded machine that takes a while.
    const started = await Promise.race([streaming, expect.poll(() => detections, { timeout: 150_000 }).toBeGreaterThan(60).then(() => 'ok' as const)]);
    expect(started, `the stream ended before 60 detections: ${String(started)}; server exit ${server.child.exitCode} ${server.child.signalCode}\n${server.output().slice(-3000)}`).toBe('ok');

    server.kill('SIGTERM');
    const exit = await server.exited;
    await streaming;
    // Exit 0: the shutdown finished within its grace period (past it, plus 5 s, the process exits 1 on its own).
    expect(exit, server.output().slice(-3000)).toEqual({ code: 0, signal: null });
    expect(server.output()).not.toContain('shutdown did not finish in time');

    // The client was told, before the socket closed.
    expect(ended?.reason).toBe('stopped');
    expect(ended?.message).toBe('The server is shutting down.');

    // The stored session: ended as stopped, figures saved, a recording that plays.
    const session = await database.db.selectFrom('live_sessions').selectAll().where('user_id', '=', login.user.id).executeTakeFirstOrThrow();
    expect(session).toMatchObject({ state: 'ended', end_reason: 'stopped', frames_processed: ended!.stats.framesProcessed, frames_in: ended!.stats.framesIn });
    expect(session.recording_path).toMatch(/\.webm$/);
    const frames = await countFrames(session.recording_path!);
    expect(frames).toBeGreaterThanOrEqual(ended!.stats.framesIn - 5);

    // Charges settled: processed frames × 0.5 charged, the rest of every hold refunded, the balance agrees.
    expect(session.tokens_charged_milli).toBe(ended!.stats.framesProcessed * 500);
    const holds = await database.db.selectFrom('token_reservations').selectAll().where('ref', '=', `live:${session.id}`).execute();
    expect(holds.length).toBeGreaterThan(0);
    for (const h of holds) expect(Number(h.held_milli) - h.charged_milli - h.refunded_milli).toBe(0);
    const user = await database.db.selectFrom('users').select('balance_milli').where('id', '=', login.user.id).executeTakeFirstOrThrow();
    expect(Number(user.balance_milli)).toBe(1_000_000 - session.tokens_charged_milli);
    expect(server.output()).toContain('"msg":"stopped"');
  }, 240_000);
});
