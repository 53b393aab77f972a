/**
 * Who may sign up: REGISTRATION=invite (one-time codes for one address), REGISTRATION=closed (403, and the mode
 * is public so the web app can say why), SIGNUP_TOKENS, and the per-address sign-up limit under a flood of 50
 * from one address (all beyond the limit get 429, and no account or token is created for them).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const ADMIN = { email: 'root@example.com', password: 'root password 1' };
const servers: TestServer[] = [];
afterAll(async () => Promise.all(servers.map((s) => s.close())));

async function server(env: Record<string, string>): Promise<TestServer> {
  const s = await startTestServer({ ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, ...env });
  servers.push(s);
  return s;
}

const register = (s: TestServer, body: Record<string, unknown>): Promise<Response> => s.call('POST', '/api/v1/auth/register', { body: { password: 'a good password', ...body } });
const errorOf = async (r: Response): Promise<{ status: number; code: string }> => ({ status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code });

describe('registration', () => {
  it('invite: a code works once, for its own address; unknown, used and foreign codes are refused', async () => {
    const s = await server({ REGISTRATION: 'invite', SIGNUP_TOKENS: '3' });
    expect(await (await s.call('GET', '/api/v1/auth/registration')).json()).toMatchObject({ mode: 'invite' });
    const admin = ((await (await s.call('POST', '/api/v1/auth/login', { body: ADMIN })).json()) as { token: string }).token;
    const { code } = (await (await s.call('POST', '/api/v1/admin/invites', { token: admin, body: { email: 'Guest@Example.com' } })).json()) as { code: string };
    expect(code).toMatch(/^inv_/);
    expect(await errorOf(await register(s, { email: 'guest@example.com' }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await errorOf(await register(s, { email: 'guest@example.com', invite: 'inv_unknown' }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await errorOf(await register(s, { email: 'someone@example.com', invite: code }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    const ok = await register(s, { email: 'guest@example.com', invite: code });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { user: { balance: number } }).user.balance).toBe(3);
    expect(await errorOf(await register(s, { email: 'guest@example.com', invite: code }))).toEqual({ status: 409, code: 'CONFLICT' });
    // A used code does not work for another address either.
    expect(await errorOf(await register(s, { email: 'guest2@example.com', invite: code }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    const db = s.app.database.db;
    expect(await db.selectFrom('users').select('email').where('email', 'like', '%someone%').execute()).toEqual([]);
    const audit = (await (await s.call('GET', '/api/v1/admin/audit', { token: admin })).json()) as { entries: { action: string; target: string }[] };
    expect(audit.entries.map((e) => `${e.action} ${e.target}`)).toEqual(expect.arrayContaining(['invite.created guest@example.com', 'invite.used guest@example.com']));
  });

  it('closed: 403 with the reason, and the mode says so', async () => {
    const s = await server({ REGISTRATION: 'closed' });
    const mode = (await (await s.call('GET', '/api/v1/auth/registration')).json()) as { mode: string; message: string };
    expect(mode.mode).toBe('closed');
    expect(mode.message).toMatch(/closed/);
    const r = await register(s, { email: 'late@example.com' });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: { message: string } }).error.message).toBe(mode.message);
  });

  it('a flood of 50 sign-ups from one address: those beyond the limit get 429 with Retry-After, and no account or token', async () => {
    const s = await server({ SIGNUP_MAX_PER_ADDRESS: '10', SIGNUP_TOKENS: '10' });
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => register(s, { email: `flood${i}@example.com` })));
    const statuses = rs.map((r) => r.status);
    expect(statuses.filter((c) => c === 201)).toHaveLength(10);
    const refused = rs.filter((r) => r.status === 429);
    expect(refused).toHaveLength(40);
    expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    const db = s.app.database.db;
    const users = await db.selectFrom('users').select('id').where('email', 'like', 'flood%').execute();
    expect(users).toHaveLength(10);
    const grants = await db.selectFrom('token_ledger').select('amount_milli').where('reason', '=', 'initial').where('user_id', 'in', users.map((u) => u.id)).execute();
    expect(grants.reduce((n, g) => n + g.amount_milli, 0)).toBe(10 * 10_000);
  });
});
