/**
 * Bad input gets the contract's 400/409/413 and a readable answer, never a 500 (hostile review, defects 7, 8 and
 * 12): malformed ids, dates PostgreSQL cannot hold, NUL characters, an oversized JSON body, a reused
 * Idempotency-Key.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdmin } from '../../../src/accounts/users.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';

let s: TestServer;
let token: string;
let adminToken: string;

beforeAll(async () => {
  s = await startTestServer({ BODY_LIMIT_BYTES: '4096' });
  ({ token } = await signUp(s));
  await ensureAdmin(s.app.deps.db, { email: 'root@example.com', password: 'root password 1', initialMilli: 0, resetPassword: true });
  const r = await s.call('POST', '/api/v1/auth/login', { body: { email: 'root@example.com', password: 'root password 1' } });
  adminToken = ((await r.json()) as { token: string }).token;
});
afterAll(async () => s?.close());

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message };
}

describe('validated at the edge: 400, not 500', () => {
  it('ids that are not UUIDs, even 36 characters long', async () => {
    const fake = 'x'.repeat(8) + '-' + 'y'.repeat(4) + '-zzzz-wwww-' + 'v'.repeat(12);
    expect(fake).toHaveLength(36);
    for (const p of [`/api/v1/live-sessions/${fake}`, `/api/v1/live-sessions/${fake}/recording`, `/api/v1/jobs/${fake}`, `/api/v1/datasets/${fake}/files/also-bad`]) {
      expect(await errorOf(await s.call('GET', p, { token })), p).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', message: expect.stringMatching(/is not a valid id/) as unknown });
    }
  });

  it('before= dates PostgreSQL cannot hold', async () => {
    for (const before of ['-010000-01-01T00:00:00Z', '+275000-01-01T00:00:00Z', 'not a date']) {
      const r = await s.call('GET', `/api/v1/live-sessions?before=${encodeURIComponent(before)}`, { token });
      expect(await errorOf(r), before).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    }
    expect((await s.call('GET', `/api/v1/jobs?before=${encodeURIComponent('2026-01-01T00:00:00Z')}`, { token })).status).toBe(200);
  });

  it('NUL in an email (register, login, top-up), a dataset tag, or a query parameter', async () => {
    const nulEmail = 'a\u0000b@example.com';
    expect(await errorOf(await s.call('POST', '/api/v1/auth/register', { body: { email: nulEmail, password: 'long enough' } }))).toMatchObject({ status: 400, message: expect.stringMatching(/"email" holds a NUL/) as unknown });
    expect((await s.call('POST', '/api/v1/auth/login', { body: { email: nulEmail, password: 'long enough' } })).status).toBe(400);
    expect((await s.call('POST', '/api/v1/admin/top-ups', { token: adminToken, body: { email: nulEmail, amount: 1 } })).status).toBe(400);
    expect((await s.call('POST', '/api/v1/datasets', { token, body: { name: 'n', tags: ['ok', 'bad\u0000tag'] } })).status).toBe(400);
    expect(await errorOf(await s.call('GET', '/api/v1/admin/users?cursor=%00', { token: adminToken }))).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    // Nothing was stored on the way.
    const datasets = (await (await s.call('GET', '/api/v1/datasets', { token })).json()) as { datasets: unknown[] };
    expect(datasets.datasets).toEqual([]);
  });
});

describe('oversized bodies', () => {
  it('a JSON body over the limit, with Content-Length, gets a 413 that fetch reads', async () => {
    const big = JSON.stringify({ email: 'x@example.com', password: 'p'.repeat(8 * 1024 * 1024) });
    const res = await s.call('POST', '/api/v1/auth/register', { body: big });
    expect(await errorOf(res)).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    // The connection stays usable for the next request (keep-alive): the body was read to its end.
    expect((await s.call('GET', '/api/v1/health')).status).toBeLessThan(500);
  });

  it('Node’s http client sees the 413 too, not EPIPE', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(8 * 1024 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(Buffer.alloc(8 * 1024 * 1024, 0x20));
    });
    expect(status).toBe(413);
  });

  it('a request with 100 headers gets no answer from uWebSockets.js 20 (its parser waits), and holds nothing else up', async () => {
    // The pinned uWS binary cannot be told to answer 431 for too many headers: the connection waits for its idle
    // timeout. What Lookout can guarantee is that it is that connection alone: every other request is answered.
    const port = new URL(s.url).port;
    const c = net.connect(Number(port), '127.0.0.1');
    let got = '';
    c.on('data', (d) => (got += d.toString()));
    c.on('error', () => undefined);
    const headers = Array.from({ length: 100 }, (_, i) => `x-h${i}: v\r\n`).join('');
    c.write(`GET /api/v1/health HTTP/1.1\r\nhost: x\r\n${headers}\r\n`);
    await new Promise((r) => setTimeout(r, 300));
    expect((await s.call('GET', '/api/v1/models')).status).toBe(200);
    c.destroy();
    expect(got === '' || got.startsWith('HTTP/1.1 431')).toBe(true);
  });
});

describe('Idempotency-Key', () => {
  it('reused for the same user with a different amount: 409, and nothing is credited', async () => {
    const u = await signUp(s);
    const topUp = (amount: number): Promise<Response> =>
      s.call('POST', '/api/v1/admin/top-ups', { token: adminToken, body: { email: u.email, amount }, headers: { 'idempotency-key': 'same-key-1' } });
    expect((await topUp(5)).status).toBe(200);
    expect((await topUp(5)).status).toBe(200); // a true retry
    expect(await errorOf(await topUp(50))).toMatchObject({ status: 409, code: 'CONFLICT' });
    const balance = (await (await s.call('GET', '/api/v1/tokens', { token: u.token })).json()) as { balance: number };
    expect(balance.balance).toBe(15);
  });
});
