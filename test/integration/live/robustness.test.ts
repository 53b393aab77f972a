/**
 * Live sessions when things go wrong: clients that vanish, balances that run out, bad messages, limits.
 * Real server, real werift peers, real ffmpeg processes (counted as children of this process).
 */
import { execFile, spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { RTCPeerConnection, useVP8, useVP9 } from 'werift';
import { beforeAll, describe, expect, it } from 'vitest';
import { streamFile } from '../../../src/live/client/stream.js';
import { useLiveServer } from '../../helpers/live.js';
import { ROOT } from '../../helpers/process.js';
import { signUp, type TestServer } from '../../helpers/server.js';
import { closedWithin, openSocket, type TestSocket } from '../../helpers/ws.js';
import { until } from '../../helpers/wait.js';

const IDLE_S = 2;
const ADMIN = { email: 'admin@example.com', password: 'admin password 123' };

const live = useLiveServer({
  clipSeconds: 20,
  env: {
    INITIAL_TOKENS: '5', // ten frames at 0.5
    LIVE_IDLE_TIMEOUT_S: String(IDLE_S),
    LIVE_MAX_SESSIONS_PER_USER: '1',
    LIVE_MAX_SESSIONS: '3',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  },
});
let s: TestServer;
let clip: string;
let recordings: string;

beforeAll(() => {
  ({ server: s, clip, recordings } = live());
});

/** ffmpeg processes started by this process (the server runs in it). */
async function ffmpegChildren(): Promise<number> {
  const out = await promisify(execFile)('pgrep', ['-P', String(process.pid), 'ffmpeg']).catch(() => ({ stdout: '' }));
  return out.stdout.split('\n').filter(Boolean).length;
}

async function topUp(email: string, amount: number): Promise<void> {
  const login = await s.call('POST', '/api/v1/auth/login', { body: ADMIN });
  expect(login.status, await login.clone().text()).toBe(200);
  const { token } = (await login.json()) as { token: string };
  const r = await s.call('POST', '/api/v1/admin/top-ups', { token, body: { email, amount } });
  expect(r.status, await r.clone().text()).toBe(200);
}

async function sessions(token: string): Promise<{ id: string; state: string; endReason?: string; framesIn: number; tokensCharged: number }[]> {
  return ((await (await s.call('GET', '/api/v1/live-sessions', { token })).json()) as { sessions: never[] }).sessions;
}

/** A real browser-like offer (werift) with a sending video section; no media will follow. */
async function offer(codec: 'vp8' | 'vp9' = 'vp8'): Promise<{ sdp: string; close: () => Promise<void> }> {
  const pc = new RTCPeerConnection({ iceServers: [], codecs: { video: [codec === 'vp8' ? useVP8() : useVP9()] } });
  pc.addTransceiver('video', { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  return { sdp: pc.localDescription!.sdp, close: () => pc.close() };
}

/** A WebSocket of `token` on this file's server. */
const socket = (token: string | undefined, headers: Record<string, string> = {}): Promise<TestSocket> => openSocket(s.url, token, headers);

describe('a client that vanishes', () => {
  it.each([['whip'], ['ws']] as const)('over %s: its session, ffmpeg and hold are gone within the idle timeout + 5 s', async (via) => {
    const u = await signUp(s);
    await topUp(u.email, 1000);
    const args = [clip, '--codec', 'vp8', '--fps', '30', '--server', s.url, '--token', u.token, '--model', 'blazeface', '--record', ...(via === 'whip' ? ['--whip'] : [])];
    // Its own process group, so that SIGKILL takes tsx, node and the client's ffmpeg encoder at once.
    const client = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/cli/stream.ts', ...args], { cwd: ROOT, detached: true, stdio: 'ignore' });
    const exited = new Promise((resolve) => client.on('exit', resolve));
    const killClient = (): void => {
      try {
        process.kill(-client.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    try {
      // Wait until frames are flowing and the server's ffmpeg runs for this session (the client starts tsx and
      // encodes its clip first: under a loaded CI machine that alone can take tens of seconds).
      const live = await until('session live with frames', 90_000, async () => {
        const [x] = await sessions(u.token);
        return x && x.state === 'live' && x.framesIn > 30 ? x : undefined;
      });
      expect(await ffmpegChildren()).toBeGreaterThanOrEqual(1);
      killClient(); // no goodbye: no DELETE, no live.stop, no DTLS close
      // Ends by the idle timeout (IDLE_S); a busy machine may take longer to notice, so allow plenty.
      const ended = await until('session ended', 60_000, async () => {
        const x = (await sessions(u.token)).find((y) => y.id === live.id);
        return x?.state === 'ended' ? x : undefined;
      });
      expect(ended.endReason).toBe('disconnected');
      await until('no ffmpeg left', 20_000, async () => ((await ffmpegChildren()) === 0 ? true : undefined));
      // The hold was settled: what was spent is exactly what was charged, the rest came back.
      const balance = ((await (await s.call('GET', '/api/v1/tokens', { token: u.token })).json()) as { balance: number }).balance;
      expect(balance).toBe(1005 - ended.tokensCharged);
      // The recording was finalised and kept.
      expect((await readdir(recordings)).some((f) => f.startsWith(live.id))).toBe(true);
    } finally {
      killClient();
      await exited;
    }
  }, 150_000);
});

describe('tokens', () => {
  it('a session that runs out ends with insufficient_tokens and leaves the balance at 0', async () => {
    const u = await signUp(s); // 5 tokens: ten frames
    const sum = await streamFile({ server: s.url, token: u.token, file: clip, codec: 'vp8', fps: 30, model: 'blazeface', record: false, durationS: 10 });
    expect(sum.ended?.reason).toBe('insufficient_tokens');
    expect(sum.ended!.stats.framesProcessed).toBe(10);
    expect(sum.detections).toHaveLength(10);
    expect(sum.ended!.stats.tokensCharged).toBe(5);
    const balance = ((await (await s.call('GET', '/api/v1/tokens', { token: u.token })).json()) as { balance: number }).balance;
    expect(balance).toBe(0);
    const [row] = await sessions(u.token);
    expect(row).toMatchObject({ state: 'ended', endReason: 'insufficient_tokens', tokensCharged: 5 });
  }, 60_000);

  it('the periodic sweep for abandoned sessions leaves a running session alone: it ends as it should, charged for every frame', async () => {
    // The sweep used to close every 'live' session of this node, running ones too: a session older than a
    // minute read as ended/error while it ran, its hold was refunded and its later frames were never charged.
    const u = await signUp(s);
    await topUp(u.email, 95); // 100 tokens: 200 frames
    let swept: Promise<number> | undefined;
    const sum = await streamFile({
      server: s.url, token: u.token, file: clip, codec: 'vp8', fps: 15, model: 'blazeface', record: false, durationS: 4,
      onMessage: (m) => {
        if (m.type === 'detections' && m.frame >= 15) swept ??= s.app.deps.live.sweepAbandoned(false);
      },
    });
    expect(await swept).toBe(0);
    expect(sum.ended?.reason).toBe('stopped');
    const processed = sum.ended!.stats.framesProcessed;
    expect(processed).toBeGreaterThan(20);
    expect(sum.ended!.stats.tokensCharged).toBe(processed * 0.5);
    const [row] = await sessions(u.token);
    expect(row).toMatchObject({ state: 'ended', endReason: 'stopped', tokensCharged: processed * 0.5 });
    const balance = ((await (await s.call('GET', '/api/v1/tokens', { token: u.token })).json()) as { balance: number }).balance;
    expect(balance).toBe(100 - processed * 0.5);
  }, 60_000);

  it('disabling the account ends its WHIP session and closes its socket within 1 s, saying why', async () => {
    const u = await signUp(s);
    await topUp(u.email, 95);
    const login = await s.call('POST', '/api/v1/auth/login', { body: ADMIN });
    const adminToken = ((await login.json()) as { token: string }).token;
    let started!: () => void;
    const first = new Promise<void>((resolve) => (started = resolve));
    const streaming = streamFile({
      server: s.url, token: u.token, file: clip, codec: 'vp8', fps: 15, model: 'blazeface', record: false, durationS: 15, whip: true,
      onMessage: (m) => {
        if (m.type === 'detections') started();
      },
    }).catch((err: unknown) => err);
    await first;
    const ws = await openSocket(s.url, u.token);
    const [row] = await sessions(u.token);
    const patch = await s.call('PATCH', `/api/v1/admin/users/${u.user.id}`, { token: adminToken, body: { disabled: true } });
    expect(patch.status).toBe(200);
    const closed = await closedWithin(ws, 1000);
    expect(closed).toEqual({ code: 1008, reason: 'The account was disabled by an administrator.' });
    const db = s.app.database.db;
    const ended = await until('session ended', 1000, async () => {
      const r = await db.selectFrom('live_sessions').select(['state', 'end_reason']).where('id', '=', row!.id).executeTakeFirstOrThrow();
      return r.state === 'ended' ? r : undefined;
    });
    expect(ended.end_reason).toBe('stopped');
    await streaming;
    await until('no ffmpeg left', 20_000, async () => ((await ffmpegChildren()) === 0 ? true : undefined));
  }, 60_000);

  it('an empty balance cannot start a session, and nothing is left behind', async () => {
    const u = await signUp(s);
    const once = await streamFile({ server: s.url, token: u.token, file: clip, codec: 'vp8', fps: 30, model: 'blazeface', record: false, durationS: 10 });
    expect(once.ended?.reason).toBe('insufficient_tokens');
    const o = await offer();
    try {
      const r = await s.call('POST', '/api/v1/whip', { token: u.token, body: o.sdp, headers: { 'content-type': 'application/sdp' } });
      expect(r.status).toBe(402);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('INSUFFICIENT_TOKENS');
      expect(await sessions(u.token)).toHaveLength(1);
    } finally {
      await o.close();
    }
  }, 60_000);
});

describe('signalling errors', () => {
  it('bad messages get an error and the socket stays open', async () => {
    const u = await signUp(s);
    const ws = await socket(u.token);
    try {
      ws.send('not json');
      // A busy machine (CI runs every test file against one PostgreSQL) may take a while for the first answer.
      expect(await ws.next(undefined, 30_000)).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
      ws.send({ type: 'teleport' });
      expect(await ws.next()).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
      ws.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      expect(await ws.next()).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
      ws.send({ type: 'live.offer', sdp: 'hello' });
      expect(await ws.next()).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', re: 'live.offer' });
      const vp9 = await offer('vp9');
      ws.send({ type: 'live.offer', sdp: vp9.sdp });
      const e = await ws.next();
      await vp9.close();
      expect(e).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
      expect(String(e['message'])).toMatch(/VP8 or H\.264/);
      ws.send({ type: 'live.offer', sdp: (await offer()).sdp, budgetMs: 0 });
      expect(await ws.next()).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', re: 'live.offer' });
      ws.send({ type: 'live.offer', sdp: (await offer()).sdp, model: 'no-such-model' });
      expect(await ws.next()).toMatchObject({ type: 'error', code: 'NOT_FOUND', re: 'live.offer' });
      ws.send({ type: 'live.stop', sessionId: 'nope' });
      expect(await ws.next()).toMatchObject({ type: 'error', code: 'NOT_FOUND', re: 'live.stop' });
      ws.send({ type: 'subscribe', topic: 'live:00000000-0000-0000-0000-000000000000' });
      expect(await ws.next()).toMatchObject({ type: 'error', code: 'NOT_FOUND', re: 'subscribe' });
      // Still open, and none of it left a session or a hold behind.
      expect(ws.ws.readyState).toBe(ws.ws.OPEN);
      expect(await sessions(u.token)).toEqual([]);
      const ledger = (await (await s.call('GET', '/api/v1/tokens/ledger', { token: u.token })).json()) as { entries: { reason: string }[] };
      expect(ledger.entries.map((e) => e.reason)).toEqual(['initial']);
      expect(await ffmpegChildren()).toBe(0);
    } finally {
      ws.close();
    }
  }, 90_000);

  it('refuses upgrades without credentials or from a foreign origin', async () => {
    await expect(socket(undefined)).rejects.toThrow(/401/);
    await expect(socket('not-a-token')).rejects.toThrow(/401/);
    const u = await signUp(s);
    const login = await s.call('POST', '/api/v1/auth/login', { body: { email: u.email, password: u.password } });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    await expect(socket(undefined, { cookie, origin: 'https://evil.example' })).rejects.toThrow(/403/);
    const ok = await socket(undefined, { cookie, origin: s.url });
    ok.close();
  });

  it('WHIP refuses what is not an SDP offer, and foreign sessions do not exist', async () => {
    const u = await signUp(s);
    const o = await offer();
    try {
      expect((await s.call('POST', '/api/v1/whip', { body: o.sdp, headers: { 'content-type': 'application/sdp' } })).status).toBe(401);
      expect((await s.call('POST', '/api/v1/whip', { token: u.token, body: o.sdp, headers: { 'content-type': 'text/plain' } })).status).toBe(415);
      expect((await s.call('POST', '/api/v1/whip', { token: u.token, body: 'v=0\r\nnonsense', headers: { 'content-type': 'application/sdp' } })).status).toBe(400);
      expect((await s.call('POST', '/api/v1/whip?budgetMs=abc', { token: u.token, body: o.sdp, headers: { 'content-type': 'application/sdp' } })).status).toBe(400);
      expect((await s.call('DELETE', '/api/v1/whip/00000000-0000-0000-0000-000000000000', { token: u.token })).status).toBe(404);
      expect(await sessions(u.token)).toEqual([]);
    } finally {
      await o.close();
    }
  });
});

describe('limits and the balance feed', () => {
  it('one session per user here, three per server; a WHIP session ends on DELETE', async () => {
    const users = await Promise.all([signUp(s), signUp(s), signUp(s), signUp(s)]);
    const offers = await Promise.all(users.map(() => offer()));
    const locations: { token: string; location: string }[] = [];
    try {
      const post = (token: string, sdp: string): Promise<Response> => s.call('POST', '/api/v1/whip', { token, body: sdp, headers: { 'content-type': 'application/sdp' } });
      for (const [i, u] of users.slice(0, 3).entries()) {
        const r = await post(u.token, offers[i]!.sdp);
        expect(r.status).toBe(201);
        expect(r.headers.get('content-type')).toBe('application/sdp');
        expect(await r.text()).toMatch(/^v=0/);
        locations.push({ token: u.token, location: r.headers.get('location')! });
      }
      const again = await post(users[0].token, (await offer()).sdp);
      expect(again.status).toBe(409);
      const full = await post(users[3].token, offers[3]!.sdp);
      expect(full.status).toBe(503);
      expect(full.headers.get('retry-after')).toBeTruthy();
      // Someone else's session is not found, the owner's ends.
      expect((await s.call('DELETE', locations[0]!.location, { token: users[1].token })).status).toBe(404);
      expect((await s.call('DELETE', locations[0]!.location, { token: users[0].token })).status).toBe(200);
      const [row] = await sessions(users[0].token);
      expect(row).toMatchObject({ state: 'ended', endReason: 'stopped', framesIn: 0, tokensCharged: 0 });
      expect((await post(users[3].token, offers[3]!.sdp)).status).toBe(201);
    } finally {
      for (const { token, location } of locations) await s.call('DELETE', location, { token });
      const [, , , last] = users;
      const [x] = await sessions(last.token);
      if (x?.state === 'live') await s.call('DELETE', `/api/v1/whip/${x.id}`, { token: last.token });
      await Promise.all(offers.map((o) => o.close()));
    }
    // Sessions that never got media were free: each balance is back where it started.
    for (const u of users) {
      expect(((await (await s.call('GET', '/api/v1/tokens', { token: u.token })).json()) as { balance: number }).balance).toBe(5);
    }
  });

  it('a top-up reaches the user\'s open sockets as a balance message', async () => {
    const u = await signUp(s);
    const ws = await socket(u.token);
    try {
      await topUp(u.email, 2.5);
      expect(await ws.next((m) => m['type'] === 'balance')).toEqual({ type: 'balance', balance: 7.5 });
    } finally {
      ws.close();
    }
  });
});
