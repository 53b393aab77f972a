/**
 * WebSockets under hostile use (hostile review, defects 3 and 11): a socket does not outlive its sign-in, a user
 * cannot open sockets without end, and a socket cannot flood the server with messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionIdOf } from '../../../src/accounts/sessions.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';
import { closedWithin, openSocket } from '../../helpers/ws.js';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ WS_MAX_PER_USER: '3', WS_MESSAGES_PER_S: '4', WS_SIGNIN_CHECK_S: '1' });
});
afterAll(async () => s?.close());

const POLICY = 1008;

describe('a WebSocket and its sign-in', () => {
  it('is closed at once when its session logs out, and the same user’s other sessions keep theirs', async () => {
    const u = await signUp(s);
    const other = await s.call('POST', '/api/v1/auth/login', { body: { email: u.email, password: u.password } });
    const otherToken = ((await other.json()) as { token: string }).token;
    const a = await openSocket(s.url, u.token);
    const b = await openSocket(s.url, otherToken);
    a.send({ type: 'subscribe', topic: 'jobs' });
    b.send({ type: 'subscribe', topic: 'jobs' });
    expect((await s.call('POST', '/api/v1/auth/logout', { token: u.token })).status).toBe(204);
    const close = await closedWithin(a, 5000);
    expect(close.code).toBe(POLICY);
    expect(close.reason).toMatch(/sign-in session ended/);
    // b's session still holds: it is open and still gets balance events.
    const admin = await s.call('GET', '/api/v1/me', { token: otherToken });
    expect(admin.status).toBe(200);
    expect(b.ws.readyState).toBe(b.ws.OPEN);
    b.close();
  });

  it('cannot start a paid session once its sign-in has expired: it is closed instead', async () => {
    const u = await signUp(s);
    const a = await openSocket(s.url, u.token);
    const db = s.app.deps.db;
    await db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', sessionIdOf(u.token)).execute();
    a.send({ type: 'live.offer', sdp: 'v=0\r\n' });
    const close = await closedWithin(a, 5000);
    expect(close.code).toBe(POLICY);
    const rows = await db.selectFrom('live_sessions').select('id').where('user_id', '=', u.user.id).execute();
    expect(rows).toEqual([]);
  });

  it('an expired sign-in is closed by the periodic check even when the socket says nothing', async () => {
    const u = await signUp(s);
    const a = await openSocket(s.url, u.token);
    await s.app.deps.db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', sessionIdOf(u.token)).execute();
    const close = await closedWithin(a, 5000);
    expect(close).toMatchObject({ code: POLICY });
  });
});

describe('limits per user and per socket', () => {
  it('a user may hold WS_MAX_PER_USER sockets; one more is closed with 1008 and says why', async () => {
    const u = await signUp(s);
    const open = [await openSocket(s.url, u.token), await openSocket(s.url, u.token), await openSocket(s.url, u.token)];
    const fourth = await openSocket(s.url, u.token);
    const close = await closedWithin(fourth, 5000);
    expect(close.code).toBe(POLICY);
    expect(close.reason).toMatch(/Too many WebSockets: a user may have 3 open/);
    // Closing one frees its place.
    open[0]!.close();
    await open[0]!.closed;
    const again = await openSocket(s.url, u.token);
    again.send({ type: 'subscribe', topic: 'jobs' });
    await new Promise((r) => setTimeout(r, 300));
    expect(again.ws.readyState).toBe(again.ws.OPEN);
    for (const x of [...open.slice(1), again]) x.close();
  });

  it('a flood of messages gets RATE_LIMITED errors, then the socket is closed; handling stops at the limit', async () => {
    const u = await signUp(s);
    const a = await openSocket(s.url, u.token);
    // Each handled subscribe reads the database and answers NOT_FOUND for this unknown session.
    const probe = { type: 'subscribe', topic: 'live:00000000-0000-0000-0000-000000000000' };
    for (let i = 0; i < 6; i++) a.send(probe);
    // 4 a second: 4 are handled, the next 2 refused, and the socket stays open.
    const errors = async (code: string, n: number): Promise<unknown[]> => {
      const got: unknown[] = [];
      while (got.length < n) got.push(await a.next((m) => m['type'] === 'error' && m['code'] === code));
      return got;
    };
    await errors('NOT_FOUND', 4);
    const limited = await errors('RATE_LIMITED', 2);
    expect(limited[0]).toMatchObject({ retryAfterS: expect.any(Number) as unknown, message: expect.stringMatching(/at most 4 a second/) as unknown });
    expect(a.ws.readyState).toBe(a.ws.OPEN);
    // Twice the limit in one window closes it.
    for (let i = 0; i < 500; i++) a.send(probe);
    const close = await closedWithin(a, 10_000);
    expect(close.code).toBe(POLICY);
    expect(close.reason).toMatch(/Too many messages/);
    expect(a.inbox.filter((m) => m['code'] === 'NOT_FOUND')).toEqual([]); // nothing past the limit was handled
    // The server still answers everyone else.
    expect((await s.call('GET', '/api/v1/health')).status).toBeLessThan(600);
  });
});

