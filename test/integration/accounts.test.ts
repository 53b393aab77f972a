import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionIdOf } from '../../src/accounts/sessions.js';
import { ensureAdmin } from '../../src/accounts/users.js';
import { signUp, startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ LOGIN_MAX_PER_ACCOUNT: '5', LOGIN_MAX_PER_ADDRESS: '1000', BODY_LIMIT_BYTES: '4096' });
});
afterAll(async () => s?.close());

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message };
}

async function makeAdmin(): Promise<string> {
  const email = `admin${Math.random().toString(36).slice(2, 8)}@example.com`;
  await ensureAdmin(s.app.deps.db, { email, password: 'admin password 1', initialMilli: 0, resetPassword: true });
  const r = await s.call('POST', '/api/v1/auth/login', { body: { email, password: 'admin password 1' } });
  return ((await r.json()) as { token: string }).token;
}

describe('accounts', () => {
  it('registers with the initial balance, signs in, shows /me, signs out', async () => {
    const reg = await s.call('POST', '/api/v1/auth/register', { body: { email: ' Ada@Example.com ', password: 'analytical engine' } });
    expect(reg.status).toBe(201);
    const { user } = (await reg.json()) as { user: Record<string, unknown> };
    expect(user).toMatchObject({ email: 'ada@example.com', role: 'user', balance: 10 });
    expect(typeof user['id']).toBe('string');
    expect(new Date(user['createdAt'] as string).toISOString()).toBe(user['createdAt']);

    const login = await s.call('POST', '/api/v1/auth/login', { body: { email: 'ADA@example.com', password: 'analytical engine' } });
    expect(login.status).toBe(200);
    const body = (await login.json()) as { token: string; expiresAt: string; user: { email: string } };
    expect(body.token).toMatch(/^[a-z2-7]{32}$/); // 160 random bits, base32
    const days = (new Date(body.expiresAt).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^lookout_session=[a-z2-7]+;/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');

    const me = await s.call('GET', '/api/v1/me', { token: body.token });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe('ada@example.com');

    const out = await s.call('POST', '/api/v1/auth/logout', { token: body.token });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    const after = await s.call('GET', '/api/v1/me', { token: body.token });
    expect(await errorOf(after)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('the cookie authenticates too, and a cookie request that changes state must come from this site', async () => {
    const { email, password } = await signUp(s);
    const login = await s.call('POST', '/api/v1/auth/login', { body: { email, password } });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const me = await s.call('GET', '/api/v1/me', { headers: { cookie } });
    expect(me.status).toBe(200);

    const foreign = await s.call('POST', '/api/v1/auth/logout', { headers: { cookie, origin: 'https://evil.example' } });
    expect(await errorOf(foreign)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    const noOrigin = await s.call('POST', '/api/v1/auth/logout', { headers: { cookie } });
    expect(noOrigin.status).toBe(403);
    expect((await s.call('GET', '/api/v1/me', { headers: { cookie } })).status).toBe(200); // still signed in

    const host = new URL(s.url).host;
    const same = await s.call('POST', '/api/v1/auth/logout', { headers: { cookie, origin: `http://${host}` } });
    expect(same.status).toBe(204);
    expect((await s.call('GET', '/api/v1/me', { headers: { cookie } })).status).toBe(401);
  });

  it('the sessions table holds no usable token: only its SHA-256', async () => {
    const { token, user } = await signUp(s);
    const rows = await s.app.deps.db.selectFrom('sessions').selectAll().where('user_id', '=', user.id).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toBe(sessionIdOf(token));
    expect(rows[0]!.id).not.toContain(token);
    // Presenting the stored value as a token gets nowhere.
    expect((await s.call('GET', '/api/v1/me', { token: rows[0]!.id })).status).toBe(401);
    const raw = JSON.stringify(await s.app.deps.db.selectFrom('sessions').selectAll().execute());
    expect(raw).not.toContain(token);
  });

  it('unknown email and wrong password answer identically', async () => {
    const { email } = await signUp(s);
    const wrongPassword = await s.call('POST', '/api/v1/auth/login', { body: { email, password: 'not the password' } });
    const unknownEmail = await s.call('POST', '/api/v1/auth/login', { body: { email: 'nobody@example.com', password: 'not the password' } });
    const shortPassword = await s.call('POST', '/api/v1/auth/login', { body: { email, password: 'short' } });
    const [a, b, c] = [await wrongPassword.text(), await unknownEmail.text(), await shortPassword.text()];
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    expect(shortPassword.status).toBe(401);
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(JSON.parse(a)).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'Wrong email or password.' } });
  });

  it('rate-limits failed sign-ins per account with 429 and Retry-After', async () => {
    const { email, password } = await signUp(s);
    for (let i = 0; i < 5; i++) {
      expect((await s.call('POST', '/api/v1/auth/login', { body: { email, password: 'wrong password!' } })).status).toBe(401);
    }
    const limited = await s.call('POST', '/api/v1/auth/login', { body: { email, password } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await errorOf(limited)).code).toBe('RATE_LIMITED');
  });

  it('failures from one address do not lock the owner out from another (hostile review, defect 10)', async () => {
    const t = await startTestServer({ LOGIN_MAX_PER_ACCOUNT: '10', LOGIN_MAX_PER_ADDRESS: '1000', TRUST_PROXY: 'true' });
    try {
      const { email, password } = await signUp(t);
      const from = (ip: string, pw: string): Promise<Response> =>
        t.call('POST', '/api/v1/auth/login', { body: { email, password: pw }, headers: { 'x-forwarded-for': ip } });
      for (let i = 0; i < 10; i++) expect((await from('203.0.113.9', 'wrong password!')).status).toBe(401);
      expect((await from('203.0.113.9', 'wrong password!')).status).toBe(429);
      expect((await from('203.0.113.9', password)).status).toBe(429); // the guesser stays locked out
      expect((await from('198.51.100.7', password)).status).toBe(200); // the owner, elsewhere, signs in
    } finally {
      await t.close();
    }
  });

  it('rate-limits attempts per address', async () => {
    const t = await startTestServer({ LOGIN_MAX_PER_ADDRESS: '3' });
    try {
      const codes = [];
      for (let i = 0; i < 5; i++) {
        codes.push((await t.call('POST', '/api/v1/auth/login', { body: { email: `x${i}@example.com`, password: 'whatever123' } })).status);
      }
      expect(codes).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await t.close();
    }
  });

  it('validates registration input', async () => {
    const cases: [unknown, number, string][] = [
      [{ email: 'not-an-email', password: 'long enough' }, 400, 'VALIDATION_FAILED'],
      [{ email: 'a@example.com', password: 'short' }, 400, 'VALIDATION_FAILED'],
      [{ email: 'a@example.com', password: 'x'.repeat(257) }, 400, 'VALIDATION_FAILED'],
      [{ email: 'a@example.com' }, 400, 'VALIDATION_FAILED'],
      [[1, 2], 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      expect(await errorOf(await s.call('POST', '/api/v1/auth/register', { body })), JSON.stringify(body)).toMatchObject({ status, code });
    }
    // 256 characters (not bytes) is allowed: multi-byte characters count once.
    const ok = await s.call('POST', '/api/v1/auth/register', { body: { email: 'long@example.com', password: 'é'.repeat(256) } });
    expect(ok.status).toBe(201);
    const dup = await s.call('POST', '/api/v1/auth/register', { body: { email: 'LONG@example.com', password: 'another one' } });
    expect(await errorOf(dup)).toMatchObject({ status: 409, code: 'CONFLICT' });
  });
});

describe('roles and tokens', () => {
  it('anonymous gets 401 and a non-admin 403 on admin routes', async () => {
    const { token } = await signUp(s);
    for (const [method, path] of [
      ['GET', '/api/v1/admin/users'],
      ['POST', '/api/v1/admin/top-ups'],
    ] as const) {
      const body = method === 'POST' ? { email: 'x@example.com', amount: 1 } : undefined;
      expect((await errorOf(await s.call(method, path, { body }))).status).toBe(401);
      expect(await errorOf(await s.call(method, path, { token, body }))).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    }
    expect((await s.call('GET', '/api/v1/tokens')).status).toBe(401);
    expect((await s.call('GET', '/api/v1/me', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
  });

  it('an admin tops up; the same Idempotency-Key credits once; the ledger shows it', async () => {
    const admin = await makeAdmin();
    const { token, email } = await signUp(s);
    const topUp = (key?: string, amount: unknown = 2.5) =>
      s.call('POST', '/api/v1/admin/top-ups', { token: admin, body: { email, amount }, headers: key ? { 'idempotency-key': key } : {} });

    const first = await topUp('order-42');
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ email, balance: 12.5 });
    const again = await topUp('order-42');
    expect(await again.json()).toEqual({ email, balance: 12.5 });
    await topUp(); // no key: a new credit each time
    expect(((await (await s.call('GET', '/api/v1/tokens', { token })).json()) as { balance: number }).balance).toBe(15);

    const ledger = (await (await s.call('GET', '/api/v1/tokens/ledger', { token })).json()) as {
      entries: { amount: number; balanceAfter: number; reason: string }[];
    };
    expect(ledger.entries.map((e) => [e.reason, e.amount, e.balanceAfter])).toEqual([
      ['top_up', 2.5, 15],
      ['top_up', 2.5, 12.5],
      ['initial', 10, 10],
    ]);

    for (const bad of [0, -1, 0.0001, '5', null, Infinity]) {
      expect((await errorOf(await topUp(undefined, bad))).code, String(bad)).toBe('VALIDATION_FAILED');
    }
    const unknown = await s.call('POST', '/api/v1/admin/top-ups', { token: admin, body: { email: 'ghost@example.com', amount: 1 } });
    expect((await errorOf(unknown)).status).toBe(404);

    const users = (await (await s.call('GET', '/api/v1/admin/users', { token: admin })).json()) as { users: { email: string; balance: number }[] };
    expect(users.users.find((u) => u.email === email)?.balance).toBe(15);
  });

  it('paginates the ledger newest first', async () => {
    const admin = await makeAdmin();
    const { token, email } = await signUp(s);
    for (let i = 1; i <= 4; i++) await s.call('POST', '/api/v1/admin/top-ups', { token: admin, body: { email, amount: i } });
    const p1 = (await (await s.call('GET', '/api/v1/tokens/ledger?limit=2', { token })).json()) as { entries: { amount: number }[]; nextCursor: string };
    expect(p1.entries.map((e) => e.amount)).toEqual([4, 3]);
    const p2 = (await (await s.call('GET', `/api/v1/tokens/ledger?limit=2&cursor=${p1.nextCursor}`, { token })).json()) as typeof p1;
    expect(p2.entries.map((e) => e.amount)).toEqual([2, 1]);
    const p3 = (await (await s.call('GET', `/api/v1/tokens/ledger?limit=2&cursor=${p2.nextCursor}`, { token })).json()) as typeof p1;
    expect(p3.entries.map((e) => e.amount)).toEqual([10]);
    expect(p3.nextCursor).toBeNull();
    expect((await s.call('GET', '/api/v1/tokens/ledger?limit=0', { token })).status).toBe(400);
  });
});

describe('HTTP edges', () => {
  it('unknown route: 404 JSON; malformed JSON: 400; wrong type: 415; too big: 413', async () => {
    expect(await errorOf(await s.call('GET', '/api/v1/nope'))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(await errorOf(await s.call('DELETE', '/api/v1/me'))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(await errorOf(await s.call('POST', '/api/v1/auth/login', { body: '{"email": ' }))).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(
      await errorOf(await s.call('POST', '/api/v1/auth/login', { body: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } })),
    ).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA' });
    const big = await s.call('POST', '/api/v1/auth/register', { body: { email: 'big@example.com', password: 'x'.repeat(5000) } });
    expect(await errorOf(big)).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('413 also when the body is streamed without a Content-Length', async () => {
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode('x'.repeat(1000)));
        c.close();
      },
    });
    const res = await fetch(`${s.url}/api/v1/auth/register`, {
      method: 'POST',
      body: chunks,
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    });
    expect(res.status).toBe(413);
  });

  it('every response carries a request id; a sane given one is echoed', async () => {
    const r1 = await s.call('GET', '/api/v1/health');
    expect(r1.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const r2 = await s.call('GET', '/api/v1/health', { headers: { 'x-request-id': 'trace-123' } });
    expect(r2.headers.get('x-request-id')).toBe('trace-123');
  });
});
