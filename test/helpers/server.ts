import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createTestDatabase } from './db.js';

export interface TestServer {
  readonly app: RunningApp;
  readonly url: string;
  readonly dataDir: string;
  /** fetch against the server; JSON bodies are serialised and typed as such. */
  call(method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

/** The real server on an ephemeral port, against a database of its own. */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  await database.db.destroy(); // the app opens its own pool
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lookout-test-data-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    RECORDINGS_DIR: path.join(dataDir, 'recordings'),
    LOG_LEVEL: 'silent',
    PRELOAD_MODELS: 'false', // most tests need no model; the ones that do ask for it
    HTTPS_PORT: '0', // test servers run side by side: HTTPS only where a test asks for it
    SIGNUP_MAX_PER_ADDRESS: '100000', // every test signs up from 127.0.0.1; the sign-up limit has its own test
    DRAIN_TIMEOUT_S: '0', // a test's server ends its sessions at once when it closes; draining has its own test
    ...env,
  });
  const app = await startApp(config, createLogger(process.env['TEST_LOG_LEVEL'] ?? 'silent'));
  return {
    app,
    url: app.url,
    dataDir,
    call: (method, p, opts = {}) => {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
      let body: string | undefined;
      if (opts.body !== undefined) {
        body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      return fetch(app.url + p, { method, headers, body });
    },
    close: async () => {
      await app.close();
      await database.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Registers and signs in a user; returns the bearer token and the user. */
export async function signUp(
  s: TestServer,
  email = `u${Math.random().toString(36).slice(2, 10)}@example.com`,
  password = 'correct horse battery',
): Promise<{ token: string; email: string; password: string; user: { id: string; balance: number; role: string } }> {
  const reg = await s.call('POST', '/api/v1/auth/register', { body: { email, password } });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${await reg.text()}`);
  const login = await s.call('POST', '/api/v1/auth/login', { body: { email, password } });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
  const j = (await login.json()) as { token: string; user: { id: string; balance: number; role: string } };
  return { token: j.token, user: j.user, email, password };
}
