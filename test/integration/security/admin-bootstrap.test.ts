/**
 * ADMIN_EMAIL must not hand admin rights to whoever registered that address first (hostile review, defect 2).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import { createTestDatabase } from '../../helpers/db.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lookout-admin-boot-'));
});
afterAll(async () => {
  await database?.drop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

/** Starts the real app on the shared database; returns it and the log lines it wrote. */
async function boot(env: Record<string, string>): Promise<{ app: RunningApp; logs: Array<Record<string, unknown>> }> {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = loadConfig({ PORT: '0', HTTPS_PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, DATABASE_URL: database.url, PRELOAD_MODELS: 'false', LOG_LEVEL: 'info', ...env });
  const app = await startApp(config, createLogger('info', sink));
  return { app, logs };
}

async function login(app: RunningApp, email: string, password: string): Promise<Response> {
  return fetch(`${app.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
}

describe('ADMIN_EMAIL bootstrap', () => {
  it('does not promote an account someone else registered first, and tells the operator what to do', async () => {
    const email = 'operator@example.com';
    const first = await boot({});
    const reg = await fetch(`${first.app.url}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'squatter password' }),
    });
    expect(reg.status).toBe(201);
    await first.app.close();

    const second = await boot({ ADMIN_EMAIL: email, ADMIN_PASSWORD: 'operator password' });
    try {
      const squatter = await login(second.app, email, 'squatter password');
      expect(squatter.status).toBe(200);
      expect(((await squatter.json()) as { user: { role: string } }).user.role).toBe('user');
      expect((await login(second.app, email, 'operator password')).status).toBe(401);
      const warning = second.logs.find((l) => l['level'] === 40 && /NOT made an admin/.test(String(l['msg'])));
      expect(warning?.['msg']).toContain('npm run admin:create');
      expect(JSON.stringify(second.logs)).not.toContain('operator password');
    } finally {
      await second.app.close();
    }
  });

  it('promotes an existing account whose password is ADMIN_PASSWORD, and creates a missing one', async () => {
    const email = 'owner@example.com';
    const first = await boot({});
    await fetch(`${first.app.url}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'owner password' }),
    });
    await first.app.close();
    const second = await boot({ ADMIN_EMAIL: email, ADMIN_PASSWORD: 'owner password' });
    try {
      const res = await login(second.app, email, 'owner password');
      expect(((await res.json()) as { user: { role: string } }).user.role).toBe('admin');
    } finally {
      await second.app.close();
    }
    const third = await boot({ ADMIN_EMAIL: 'new-admin@example.com', ADMIN_PASSWORD: 'new admin password' });
    try {
      const res = await login(third.app, 'new-admin@example.com', 'new admin password');
      expect(((await res.json()) as { user: { role: string } }).user.role).toBe('admin');
      expect(third.logs.some((l) => /created the first admin/.test(String(l['msg'])))).toBe(true);
    } finally {
      await third.app.close();
    }
  });
});
