/**
 * Administration through the public API, against the real server and PostgreSQL: the users list (paged by a
 * cursor that stays stable while users sign up, searchable), roles, disabling (sign-ins, API keys and sockets
 * end at once), deletion (data and files go, the ledger stays and still adds up, anonymised), adjustments (a
 * reason, never below zero, once per Idempotency-Key under 100 concurrent retries), the last-admin guard, and
 * the audit log recording all of it, with failed sign-in bursts and API keys.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset, makeImages, upload } from '../../helpers/datasets.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';
import { closedWithin, openSocket } from '../../helpers/ws.js';

const ADMIN = { email: 'root@example.com', password: 'root password 1' };
let s: TestServer;
let admin: string;

interface AdminUser { id: string; email: string; role: string; balance: number; disabled: boolean; lastLoginAt: string | null }
interface Audit { id: string; actor: string; action: string; target: string | null; detail: Record<string, unknown> }

beforeAll(async () => {
  s = await startTestServer({ ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, INITIAL_TOKENS: '10' });
  admin = ((await (await s.call('POST', '/api/v1/auth/login', { body: ADMIN })).json()) as { token: string }).token;
}, 60_000);
afterAll(async () => s?.close());

const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<Response> => s.call(method, `/api/v1${p}`, { token: admin, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) });
const jsonOf = async <T>(r: Response): Promise<T> => (await r.json()) as T;
const codeOf = async (r: Response): Promise<{ status: number; code: string }> => ({ status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code });
const auditOf = async (): Promise<Audit[]> => (await jsonOf<{ entries: Audit[] }>(await call('GET', '/admin/audit?limit=200'))).entries;

describe('users', () => {
  it('pages by a cursor that stays stable while users sign up, and searches emails', async () => {
    const tag = `pg${Date.now()}`;
    for (let i = 0; i < 7; i++) await s.call('POST', '/api/v1/auth/register', { body: { email: `${tag}-${i}@example.com`, password: 'a password 1' } });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await jsonOf<{ users: AdminUser[]; next?: string }>(await call('GET', `/admin/users?query=${tag}&limit=3${cursor ? `&cursor=${cursor}` : ''}`));
      seen.push(...page.users.map((u) => u.email));
      // Sign-ups between pages: later ones come after the cursor, none shifts what was read.
      if (pages === 0) await s.call('POST', '/api/v1/auth/register', { body: { email: `${tag}-late@example.com`, password: 'a password 1' } });
      cursor = page.next;
      pages++;
    } while (cursor);
    expect(seen).toEqual([...Array.from({ length: 7 }, (_, i) => `${tag}-${i}@example.com`), `${tag}-late@example.com`]);
    expect(pages).toBe(3);
    const one = await jsonOf<{ users: AdminUser[] }>(await call('GET', `/admin/users?query=${tag.toUpperCase()}-3`));
    expect(one.users.map((u) => u.email)).toEqual([`${tag}-3@example.com`]);
    expect(one.users[0]).toMatchObject({ role: 'user', disabled: false, lastLoginAt: null, balance: 10 });
    expect(await codeOf(await call('GET', '/admin/users?cursor=bogus'))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(await codeOf(await call('GET', '/admin/users?limit=1000'))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
  });

  it('PATCH changes the role; a user gets 403 on admin routes', async () => {
    const u = await signUp(s);
    expect(await codeOf(await s.call('GET', '/api/v1/admin/audit', { token: u.token }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    const r = await jsonOf<{ user: AdminUser }>(await call('PATCH', `/admin/users/${u.user.id}`, { role: 'admin' }));
    expect(r.user).toMatchObject({ email: u.email, role: 'admin', disabled: false });
    expect((await s.call('GET', '/api/v1/admin/audit', { token: u.token })).status).toBe(200);
    expect((await call('PATCH', `/admin/users/${u.user.id}`, { role: 'user' })).status).toBe(200);
    expect(await codeOf(await call('PATCH', `/admin/users/${u.user.id}`, { role: 'root' }))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(await codeOf(await call('PATCH', `/admin/users/${u.user.id}`, {}))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(await codeOf(await call('PATCH', '/admin/users/00000000-0000-4000-8000-000000000000', { role: 'user' }))).toEqual({ status: 404, code: 'NOT_FOUND' });
    const entries = await auditOf();
    expect(entries.find((e) => e.action === 'user.role_changed' && e.target === u.email && e.detail['role'] === 'admin')).toMatchObject({ actor: ADMIN.email });
  });

  it('the last admin cannot demote, disable or delete themselves (409); with a second admin they can', async () => {
    const me = (await jsonOf<{ user: { id: string } }>(await call('GET', '/me'))).user.id;
    expect(await codeOf(await call('PATCH', `/admin/users/${me}`, { role: 'user' }))).toEqual({ status: 409, code: 'CONFLICT' });
    expect(await codeOf(await call('PATCH', `/admin/users/${me}`, { disabled: true }))).toEqual({ status: 409, code: 'CONFLICT' });
    expect(await codeOf(await call('DELETE', `/admin/users/${me}`))).toEqual({ status: 409, code: 'CONFLICT' });
    // A second admin: now the first may step down (and is made admin again by the second).
    const other = await signUp(s);
    await call('PATCH', `/admin/users/${other.user.id}`, { role: 'admin' });
    expect((await call('PATCH', `/admin/users/${me}`, { role: 'user' })).status).toBe(200);
    expect((await s.call('PATCH', `/api/v1/admin/users/${me}`, { token: other.token, body: { role: 'admin' } })).status).toBe(200);
    expect((await call('PATCH', `/admin/users/${other.user.id}`, { role: 'user' })).status).toBe(200);
  });

  it('disabling ends sign-ins, API keys and open WebSockets at once; the user cannot sign in; enabling lets them back', async () => {
    const u = await signUp(s);
    const key = (await jsonOf<{ key: string }>(await s.call('POST', '/api/v1/api-keys', { token: u.token, body: { name: 'script' } }))).key;
    const ws = await openSocket(s.url, u.token);
    const t0 = performance.now();
    const r = await jsonOf<{ user: AdminUser }>(await call('PATCH', `/admin/users/${u.user.id}`, { disabled: true }));
    expect(r.user.disabled).toBe(true);
    const closed = await closedWithin(ws, 1000);
    expect(closed.code).toBe(1008);
    expect(performance.now() - t0).toBeLessThan(1000 + 500); // the PATCH's own time on top of the 1 s wait
    expect((await s.call('GET', '/api/v1/me', { token: u.token })).status).toBe(401);
    expect((await s.call('GET', '/api/v1/me', { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    expect(await codeOf(await s.call('POST', '/api/v1/auth/login', { body: { email: u.email, password: u.password } }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await codeOf(await s.call('POST', '/api/v1/auth/login', { body: { email: u.email, password: 'wrong password 1' } }))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect((await call('PATCH', `/admin/users/${u.user.id}`, { disabled: false })).status).toBe(200);
    expect((await s.call('POST', '/api/v1/auth/login', { body: { email: u.email, password: u.password } })).status).toBe(200);
    const listed = (await jsonOf<{ users: AdminUser[] }>(await call('GET', `/admin/users?query=${encodeURIComponent(u.email)}`))).users[0]!;
    expect(listed.lastLoginAt).not.toBeNull();
    const actions = (await auditOf()).filter((e) => e.target === u.email).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['api_key.created', 'user.disabled', 'user.enabled']));
  });

  it('deleting a user removes their data and files; their ledger stays, anonymised, and still adds up', async () => {
    const u = await signUp(s);
    const ds = await createDataset(s, u.token);
    const [img] = await makeImages(1);
    expect((await upload(s, u.token, ds.id, img!.name, img!.bytes)).status).toBe(201);
    const dir = path.join(s.dataDir, 'datasets', ds.id);
    expect(existsSync(dir)).toBe(true);
    await call('POST', '/admin/top-ups', { email: u.email, amount: 5 });
    expect((await call('DELETE', `/admin/users/${u.user.id}`)).status).toBe(204);
    expect(existsSync(dir)).toBe(false);
    expect((await s.call('GET', '/api/v1/me', { token: u.token })).status).toBe(401);
    expect((await jsonOf<{ users: AdminUser[] }>(await call('GET', `/admin/users?query=${encodeURIComponent(u.email)}`))).users).toEqual([]);
    const db = s.app.database.db;
    expect(await db.selectFrom('datasets').select('id').where('user_id', '=', u.user.id).execute()).toEqual([]);
    const row = await db.selectFrom('users').selectAll().where('id', '=', u.user.id).executeTakeFirstOrThrow();
    expect(row.email).not.toContain(u.email.split('@')[0]!);
    expect(row.deleted_at).not.toBeNull();
    const ledger = await db.selectFrom('token_ledger').selectAll().where('user_id', '=', u.user.id).orderBy('id').execute();
    expect(ledger.map((e) => e.reason)).toEqual(['initial', 'top_up', 'account_deleted']);
    expect(ledger.reduce((n, e) => n + e.amount_milli, 0)).toBe(row.balance_milli);
    expect(row.balance_milli).toBe(0);
    // The address is free again, and the audit log no longer names it.
    expect((await s.call('POST', '/api/v1/auth/register', { body: { email: u.email, password: 'a password 1' } })).status).toBe(201);
    const mentions = (await auditOf()).filter((e) => e.target === u.email && e.action !== 'user.role_changed');
    expect(mentions).toEqual([]);
    expect((await auditOf()).find((e) => e.action === 'user.deleted')).toMatchObject({ target: 'deleted user', detail: { datasets: 1 } });
  });
});

describe('adjustments', () => {
  it('take tokens away with a reason the ledger shows; never below zero (409); a reason and a key are required', async () => {
    const u = await signUp(s); // 10 tokens
    const r = await call('POST', '/admin/adjustments', { email: u.email, amount: -2.5, reason: 'Refund reversed: duplicate top-up' }, { 'idempotency-key': `a-${u.user.id}` });
    expect(await jsonOf(r)).toEqual({ email: u.email, balance: 7.5 });
    const ledger = await jsonOf<{ entries: { amount: number; reason: string; note?: string }[] }>(await s.call('GET', '/api/v1/tokens/ledger', { token: u.token }));
    expect(ledger.entries[0]).toMatchObject({ amount: -2.5, reason: 'adjustment', note: 'Refund reversed: duplicate top-up' });
    expect(await codeOf(await call('POST', '/admin/adjustments', { email: u.email, amount: -8, reason: 'too much' }, { 'idempotency-key': `b-${u.user.id}` }))).toEqual({ status: 409, code: 'CONFLICT' });
    expect(await codeOf(await call('POST', '/admin/adjustments', { email: u.email, amount: 1 }, { 'idempotency-key': `c-${u.user.id}` }))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(await codeOf(await call('POST', '/admin/adjustments', { email: u.email, amount: 1, reason: 'x' }))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(await codeOf(await call('POST', '/admin/adjustments', { email: u.email, amount: 0, reason: 'x' }, { 'idempotency-key': `d-${u.user.id}` }))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect((await jsonOf<{ balance: number }>(await s.call('GET', '/api/v1/tokens', { token: u.token }))).balance).toBe(7.5);
    expect((await auditOf()).find((e) => e.action === 'tokens.adjusted' && e.target === u.email)).toMatchObject({ actor: ADMIN.email, detail: { amount: -2.5, reason: 'Refund reversed: duplicate top-up', balance: 7.5 } });
  });

  it('100 concurrent requests with one Idempotency-Key apply once', async () => {
    const u = await signUp(s);
    const key = `once-${u.user.id}`;
    const rs = await Promise.all(Array.from({ length: 100 }, () => call('POST', '/admin/adjustments', { email: u.email, amount: 3, reason: 'Goodwill' }, { 'idempotency-key': key })));
    expect(rs.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect((await jsonOf<{ balance: number }>(await s.call('GET', '/api/v1/tokens', { token: u.token }))).balance).toBe(13);
    const db = s.app.database.db;
    expect(await db.selectFrom('token_ledger').select('id').where('user_id', '=', u.user.id).where('reason', '=', 'adjustment').execute()).toHaveLength(1);
    expect((await auditOf()).filter((e) => e.action === 'tokens.adjusted' && e.target === u.email)).toHaveLength(1);
  });

  it('100 concurrent debits with different keys never take the balance below zero', async () => {
    const u = await signUp(s); // 10 tokens: 40 debits of 0.25 fit
    const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => call('POST', '/admin/adjustments', { email: u.email, amount: -0.25, reason: 'Load test' }, { 'idempotency-key': `debit-${u.user.id}-${i}` })));
    const statuses = rs.map((r) => r.status);
    expect(statuses.filter((c) => c === 200)).toHaveLength(40);
    expect(statuses.filter((c) => c === 409)).toHaveLength(60);
    const db = s.app.database.db;
    const user = await db.selectFrom('users').select('balance_milli').where('id', '=', u.user.id).executeTakeFirstOrThrow();
    expect(user.balance_milli).toBe(0);
    const ledger = await db.selectFrom('token_ledger').select('amount_milli').where('user_id', '=', u.user.id).execute();
    expect(ledger.reduce((n, e) => n + e.amount_milli, 0)).toBe(0);
  });
});

describe('the audit log', () => {
  it('records a burst of failed sign-ins and revoked API keys, newest first, paged', async () => {
    const u = await signUp(s);
    const key = await jsonOf<{ apiKey: { id: string } }>(await s.call('POST', '/api/v1/api-keys', { token: u.token, body: { name: 'ci' } }));
    expect((await s.call('DELETE', `/api/v1/api-keys/${key.apiKey.id}`, { token: u.token })).status).toBe(204);
    for (let i = 0; i < 11; i++) await s.call('POST', '/api/v1/auth/login', { body: { email: u.email, password: `wrong guess ${i}` } });
    const entries = await auditOf();
    const burst = entries.filter((e) => e.action === 'login.failed_burst' && e.target === u.email);
    expect(burst).toHaveLength(1);
    expect(burst[0]).toMatchObject({ actor: 'address 127.0.0.1', detail: { failures: 10 } });
    expect(entries.find((e) => e.action === 'api_key.revoked' && e.target === u.email)).toMatchObject({ actor: u.email, detail: { keyId: key.apiKey.id } });
    const ids = entries.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const first = await jsonOf<{ entries: Audit[]; next?: string }>(await call('GET', '/admin/audit?limit=2'));
    const second = await jsonOf<{ entries: Audit[] }>(await call('GET', `/admin/audit?limit=2&cursor=${first.next!}`));
    expect(second.entries.map((e) => e.id)).toEqual(entries.slice(2, 4).map((e) => e.id));
  });
});
