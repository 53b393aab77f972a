/**
 * SIGTERM during a live session, against the real server process (`src/main.ts` in a process of its own, real
 * database, real WebRTC stream): the session ends as `stopped`, its recording is finalised and plays, its
 * tokens are settled, and the process exits 0 within SHUTDOWN_GRACE_MS. With DRAIN_TIMEOUT_S, SIGTERM drains
 * first: no new sessions, the running one goes on until the deadline.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { streamFile } from '../../src/live/client/stream.js';
import type { EndedMessage } from '../../src/live/messages.js';
import { countFrames } from '../helpers/media.js';
import type { Spawned } from '../helpers/process.js';
import { signUpOn, useProcessFixture, type ProcessFixture } from '../helpers/process-fixture.js';

const GRACE_MS = 8000;

const fixture = useProcessFixture({ prefix: 'shutdown', clipSeconds: 12 });
let database: ProcessFixture['database'];
let clip: string;
let server: Spawned | undefined;
beforeAll(() => {
  ({ database, clip } = fixture());
});

describe('SIGTERM', () => {
  it('with DRAIN_TIMEOUT_S, drains first: /health says draining, a new session is refused, the running one goes on until the deadline, then ends as stopped', async () => {
    const DRAIN_S = 4;
    const { url, proc } = await fixture().serve({ DRAIN_TIMEOUT_S: String(DRAIN_S), SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    const login = await signUpOn(url, 'drain');
    const other = await signUpOn(url, 'drain-other');
    const arrivals: number[] = [];
    let ended: EndedMessage | undefined;
    let endedAt = 0;
    const streaming = streamFile({
      server: url, token: login.token, file: clip, codec: 'vp8', fps: 15, model: 'blazeface', record: false, durationS: 11,
      onMessage: (m) => {
        if (m.type === 'detections') arrivals.push(performance.now());
        if (m.type === 'live.ended') [ended, endedAt] = [m, performance.now()];
      },
    }).catch((err: unknown) => err);
    const started = await Promise.race([streaming, expect.poll(() => arrivals.length, { timeout: 150_000 }).toBeGreaterThan(15).then(() => 'ok' as const)]);
    expect(started, `the stream ended before 15 detections: ${String(started)}\n${proc.output().slice(-3000)}`).toBe('ok');

    const signalledAt = performance.now();
    proc.kill('SIGTERM');
    await expect
      .poll(async () => {
        const r = await fetch(`${url}/api/v1/health`);
        return { status: r.status, body: (await r.json()) as { status: string } };
      }, { timeout: 3000 })
      .toMatchObject({ status: 503, body: { status: 'draining' } });
    // A new session: refused with 503 and Retry-After (one server, none to send it to).
    const offer = await fetch(`${url}/api/v1/whip`, { method: 'POST', headers: { authorization: `Bearer ${other.token}`, 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
    expect(offer.status).toBe(503);
    expect(offer.headers.get('retry-after')).toMatch(/^\d+$/);

    const exit = await proc.exited;
    await streaming;
    expect(exit, proc.output().slice(-3000)).toEqual({ code: 0, signal: null });
    // The session kept running while draining: detections kept coming after the signal, until the deadline.
    const during = arrivals.filter((t) => t > signalledAt + 1000);
    expect(during.length, 'detections during the drain').toBeGreaterThan(10);
    expect(ended?.reason).toBe('stopped');
    const endedAfterS = (endedAt - signalledAt) / 1000;
    expect(endedAfterS).toBeGreaterThanOrEqual(DRAIN_S - 0.5);
    const session = await database.db.selectFrom('live_sessions').selectAll().where('user_id', '=', login.user.id).executeTakeFirstOrThrow();
    expect(session).toMatchObject({ state: 'ended', end_reason: 'stopped', tokens_charged_milli: ended!.stats.framesProcessed * 500 });
    expect(await database.db.selectFrom('live_sessions').select('id').where('user_id', '=', other.user.id).execute()).toEqual([]);
    console.log(`drain on SIGTERM: ${during.length} detections during the ${DRAIN_S} s drain; the session ended ${endedAfterS.toFixed(1)} s after the signal`);
  }, 240_000);

  it('ends a live session as stopped, with its recording and charges settled, and exits 0 within the grace period', async () => {
    let url: string;
    ({ url, proc: server } = await fixture().serve({ SHUTDOWN_GRACE_MS: String(GRACE_MS) }));
    const login = await signUpOn(url, 'sigterm');

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
