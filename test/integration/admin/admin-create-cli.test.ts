import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnTs } from '../../helpers/process.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => s?.close());

describe('npm run admin:create', () => {
  it('creates an admin who can use admin routes, and promotes an existing account', async () => {
    const dbUrl = (s.app.database.url);
    const run = spawnTs('src/cli/admin-create.ts', ['--email', 'Boss@Example.com', '--password', 'boss password'], { DATABASE_URL: dbUrl });
    expect((await run.exited).code).toBe(0);
    expect(run.output()).toMatch(/Created admin boss@example.com/);

    const login = await s.call('POST', '/api/v1/auth/login', { body: { email: 'boss@example.com', password: 'boss password' } });
    const { token, user } = (await login.json()) as { token: string; user: { role: string } };
    expect(user.role).toBe('admin');
    expect((await s.call('GET', '/api/v1/admin/users', { token })).status).toBe(200);

    await s.call('POST', '/api/v1/auth/register', { body: { email: 'later@example.com', password: 'plain user 1' } });
    const promote = spawnTs('src/cli/admin-create.ts', ['--email', 'later@example.com', '--password', 'new password 2'], { DATABASE_URL: dbUrl });
    expect((await promote.exited).code).toBe(0);
    expect(promote.output()).toContain('Updated admin later@example.com');
    const relog = await s.call('POST', '/api/v1/auth/login', { body: { email: 'later@example.com', password: 'new password 2' } });
    expect(((await relog.json()) as { user: { role: string } }).user.role).toBe('admin');
  });

  it('explains its usage and refuses a short password', async () => {
    const usage = spawnTs('src/cli/admin-create.ts', [], { DATABASE_URL: s.app.database.url });
    expect((await usage.exited).code).toBe(64);
    expect(usage.output()).toContain('Usage: npm run admin:create');
    const short = spawnTs('src/cli/admin-create.ts', ['--email', 'x@example.com', '--password', 'short'], { DATABASE_URL: s.app.database.url });
    expect((await short.exited).code).toBe(1);
    expect(short.output()).toContain('password must be 8 to 256 characters');
  });
});
