/**
 * The default a new user gets: no DATABASE_URL, no Redis. The real server process starts its own embedded
 * PostgreSQL under DATA_DIR, keeps accounts across a restart, exits 0 on SIGTERM and leaves no PostgreSQL
 * running behind it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, spawnNode, spawnTs, waitFor200 } from '../helpers/process.js';

const dirs: string[] = [];

/** POSTs `body` as JSON to the server at `base`. */
const postJson = (base: string, p: string, body: unknown): Promise<Response> =>
  fetch(base + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

function postgresProcessesFor(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', 'postgres'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(dir));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('embedded PostgreSQL default', () => {
  it('serves health, keeps a registered user across a restart, and shuts down cleanly', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lookout-embedded-'));
    await fs.chmod(dataDir, 0o711);
    dirs.push(dataDir);
    const port = await freePort();
    const env = { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'first admin pw' };
    const base = `http://127.0.0.1:${port}`;

    const first = spawnTs('src/main.ts', [], env);
    await waitFor200(`${base}/api/v1/health`, 60_000, first);
    const health = (await (await fetch(`${base}/api/v1/health`)).json()) as { db: { kind: string } };
    expect(health.db.kind).toBe('embedded');
    expect(postgresProcessesFor(dataDir).length).toBeGreaterThan(0); // the check below can see them
    const reg = await postJson(base, '/api/v1/auth/register', { email: 'keeper@example.com', password: 'persistent one' });
    expect(reg.status).toBe(201);
    // The models load in the background after the start; wait for them (the check below reads what they logged).
    await expect.poll(() => first.output(), { timeout: 60_000 }).toMatch(/"model":"nanodet".*Detection model loaded/);
    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.output()).toContain('stopped');
    // A clean start on a CPU machine (ORT_PROVIDERS defaults to cuda,cpu): one line says models run on the CPU,
    // and ONNX Runtime prints none of its C++ error lines from a CUDA attempt.
    expect(first.output()).toContain('Models run on the CPU');
    expect(first.output(), first.output().split('\n').filter((l) => l.includes('onnxruntime')).join('\n')).not.toContain('[E:onnxruntime');
    expect(postgresProcessesFor(dataDir)).toEqual([]);

    const second = spawnTs('src/main.ts', [], env);
    try {
      await waitFor200(`${base}/api/v1/health`, 60_000, second);
      const login = await postJson(base, '/api/v1/auth/login', { email: 'keeper@example.com', password: 'persistent one' });
      expect(login.status).toBe(200);
      // The bootstrap admin exists once, and can use admin routes.
      const admin = await postJson(base, '/api/v1/auth/login', { email: 'root@example.com', password: 'first admin pw' });
      const { token } = (await admin.json()) as { token: string };
      const users = await fetch(`${base}/api/v1/admin/users`, { headers: { authorization: `Bearer ${token}` } });
      expect(users.status).toBe(200);
      expect(((await users.json()) as { users: unknown[] }).users).toHaveLength(2);
    } finally {
      second.child.kill('SIGTERM');
      expect((await second.exited).code).toBe(0);
    }
    expect(postgresProcessesFor(dataDir)).toEqual([]);
    // No secret in the logs: neither the admin password nor the database password.
    const creds = JSON.parse(await fs.readFile(path.join(dataDir, 'postgres/credentials.json'), 'utf8')) as { password: string };
    expect(first.output() + second.output()).not.toContain(creds.password);
    expect(first.output() + second.output()).not.toContain('first admin pw');
  });

  it('stops at start with a message naming a bad variable', async () => {
    const p = spawnTs('src/main.ts', [], { PORT: 'eighty' });
    const { code } = await p.exited;
    expect(code).toBe(78);
    expect(p.output()).toContain('PORT must be an integer');
  });

  it('starts again after the server alone was killed with SIGKILL, stopping the PostgreSQL it left running (hostile review, defect 4)', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lookout-embedded-kill-'));
    await fs.chmod(dataDir, 0o711);
    dirs.push(dataDir);
    const port = await freePort();
    const env = { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', PRELOAD_MODELS: 'false' };
    const base = `http://127.0.0.1:${port}`;
    const first = spawnNode('src/main.ts', [], env); // one process: SIGKILL reaches node and nothing else
    await waitFor200(`${base}/api/v1/health`, 60_000, first);
    const reg = await postJson(base, '/api/v1/auth/register', { email: 'survivor@example.com', password: 'still here 1' });
    expect(reg.status).toBe(201);
    first.kill('SIGKILL');
    await first.exited;
    const orphans = postgresProcessesFor(dataDir);
    expect(orphans.length).toBeGreaterThan(0); // what the OOM killer leaves behind

    const second = spawnNode('src/main.ts', [], env);
    try {
      await waitFor200(`${base}/api/v1/health`, 60_000, second);
      expect(second.output()).toContain('stopping an embedded PostgreSQL left running by a Lookout that was killed');
      const login = await postJson(base, '/api/v1/auth/login', { email: 'survivor@example.com', password: 'still here 1' });
      expect(login.status).toBe(200);
    } finally {
      second.kill('SIGTERM');
      expect((await second.exited).code).toBe(0);
    }
    expect(postgresProcessesFor(dataDir)).toEqual([]);
  });
});

