/**
 * `npm run admin`: every operation of the admin pages from the command line, against the server's database
 * while the server runs. Disabling from the CLI reaches the running server (PostgreSQL NOTIFY), which closes the
 * user's WebSocket; the audit log names the operator as `cli:<os user>`.
 */
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnTs } from '../../helpers/process.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';
import { closedWithin, openSocket } from '../../helpers/ws.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ INITIAL_TOKENS: '10', ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'root password 1' });
}, 60_000);
afterAll(async () => s?.close());

async function admin(...args: string[]): Promise<{ code: number | null; out: string }> {
  const run = spawnTs('src/cli/admin.ts', args, { DATABASE_URL: s.app.database.url, DATA_DIR: s.dataDir, LOG_LEVEL: 'warn' });
  const { code } = await run.exited;
  return { code, out: run.output() };
}

const balanceOf = async (token: string): Promise<number> => ((await (await s.call('GET', '/api/v1/tokens', { token })).json()) as { balance: number }).balance;

describe('npm run admin', () => {
  it('lists and searches users, changes roles, disables (closing the socket on the running server) and enables', async () => {
    const u = await signUp(s, `cli-${Date.now()}@example.com`);
    // The last active admin stays one.
    const last = await admin('set-role', '--email', 'root@example.com', '--role', 'user');
    expect(last.code).toBe(1);
    expect(last.out).toContain('root@example.com is the last active admin and cannot be demoted');
    const list = await admin('users', '--query', u.email);
    expect(list.code).toBe(0);
    expect(list.out).toContain(u.email);
    expect(list.out).toMatch(/1 shown, no more/);
    expect((await admin('set-role', '--email', u.email, '--role', 'admin')).out).toMatch(new RegExp(`${u.email}\\s+admin`));
    expect((await s.call('GET', '/api/v1/admin/audit', { token: u.token })).status).toBe(200);
    expect((await admin('set-role', '--email', u.email, '--role', 'user')).out).toMatch(new RegExp(`${u.email}\\s+user`));
    const ws = await openSocket(s.url, u.token);
    const disabled = await admin('disable', '--email', u.email);
    expect(disabled.code, disabled.out).toBe(0);
    expect(disabled.out).toMatch(new RegExp(`${u.email}.*disabled`));
    expect((await closedWithin(ws, 5000)).code).toBe(1008);
    expect((await s.call('GET', '/api/v1/me', { token: u.token })).status).toBe(401);
    await admin('enable', '--email', u.email);
    expect((await s.call('POST', '/api/v1/auth/login', { body: { email: u.email, password: u.password } })).status).toBe(200);
  }, 120_000);

  it('adjusts once per key, refuses to go below zero, makes invites, reads the audit log, deletes with --yes', async () => {
    const u = await signUp(s, `cli2-${Date.now()}@example.com`);
    const first = await admin('adjust', '--email', u.email, '--amount=-4', '--reason', 'Chargeback', '--key', `k-${u.user.id}`);
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toContain('now has 6 tokens');
    expect((await admin('adjust', '--email', u.email, '--amount=-4', '--reason', 'Chargeback', '--key', `k-${u.user.id}`)).out).toContain('Already adjusted under this key');
    expect(await balanceOf(u.token)).toBe(6);
    const below = await admin('adjust', '--email', u.email, '--amount=-7', '--reason', 'too much', '--key', `k2-${u.user.id}`);
    expect(below.code).toBe(1);
    expect(below.out).toMatch(/cannot take it below zero/);
    const invite = await admin('invite', '--email', 'friend@example.com');
    expect(invite.out).toMatch(/Invite for friend@example.com: inv_/);
    const log = await admin('audit', '--limit', '5');
    expect(log.out).toContain(`cli:${os.userInfo().username}  invite.created  friend@example.com`);
    expect(log.out).toContain(`tokens.adjusted  ${u.email}`);
    const refused = await admin('delete', '--email', u.email);
    expect(refused.code).toBe(64);
    expect(refused.out).toContain('add --yes');
    expect((await admin('delete', '--email', u.email, '--yes')).out).toContain(`Deleted ${u.email}`);
    expect((await s.call('GET', '/api/v1/me', { token: u.token })).status).toBe(401);
    expect((await admin('users', '--query', u.email)).out).toMatch(/0 shown, no more/);
    const usage = await admin('frobnicate');
    expect(usage.code).toBe(64);
    expect(usage.out).toContain('Usage: npm run admin');
  }, 120_000);
});
