/**
 * The fixture of tests that run the server as processes of its own: models set up, a database of the file's own,
 * a temporary folder (with a face clip when asked), and every process the test tracks killed afterwards, before the
 * database is dropped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { createTestDatabase } from './db.js';
import { makeFaceClip } from './media.js';
import { ensureModels } from './onnx-setup.js';
import { freePort, spawnNode, waitFor200, type Spawned } from './process.js';

export interface ProcessFixture {
  readonly database: Awaited<ReturnType<typeof createTestDatabase>>;
  readonly tmp: string;
  /** `<tmp>/face.mp4`, made when `clipSeconds` was given. */
  readonly clip: string;
  /** Kills `p` (SIGKILL) after the file's tests, if it is still running; returns it. */
  track(p: Spawned): Spawned;
  /**
   * Starts the server (`src/main.ts`, tracked) on the fixture's database and folders, on `port` (a free one by
   * default), with `env` on top; resolves once /health answers 200.
   */
  serve(env?: Record<string, string>, port?: number): Promise<{ url: string; port: number; proc: Spawned }>;
}

/** Registers a user on a server and signs in. */
export async function signUpOn(url: string, prefix: string): Promise<{ token: string; user: { id: string } }> {
  const email = `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}@example.com`;
  const password = 'correct horse battery';
  const json = { 'content-type': 'application/json' };
  expect((await fetch(`${url}/api/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, password }) })).status).toBe(201);
  return (await (await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password }) })).json()) as never;
}

/** Registers beforeAll/afterAll; the returned getter works once beforeAll has run. */
export function useProcessFixture(opts: { prefix: string; clipSeconds?: number }): () => ProcessFixture {
  let fixture: ProcessFixture | undefined;
  const procs: Spawned[] = [];
  let tmp: string | undefined;
  let database: ProcessFixture['database'] | undefined;
  beforeAll(async () => {
    await ensureModels();
    database = await createTestDatabase();
    tmp = await mkdtemp(path.join(os.tmpdir(), `lookout-${opts.prefix}-`));
    const clip = path.join(tmp, 'face.mp4');
    if (opts.clipSeconds) await makeFaceClip(clip, { seconds: opts.clipSeconds, width: 320, height: 240 });
    const track = (p: Spawned): Spawned => (procs.push(p), p);
    const dir = tmp;
    const db = database;
    const serve: ProcessFixture['serve'] = async (env = {}, port?: number) => {
      port ??= await freePort();
      const proc = track(
        spawnNode('src/main.ts', [], {
          DATABASE_URL: db.url,
          PORT: String(port),
          HOST: '127.0.0.1',
          DATA_DIR: path.join(dir, 'data'),
          RECORDINGS_DIR: path.join(dir, 'recordings'),
          INITIAL_TOKENS: '1000',
          LOG_LEVEL: 'info',
          FFMPEG_PATH: process.env['FFMPEG_PATH'],
          ...env,
        }),
      );
      const url = `http://127.0.0.1:${port}`;
      await waitFor200(`${url}/api/v1/health`, 90_000, proc);
      return { url, port, proc };
    };
    fixture = { database, tmp, clip, track, serve };
  }, 120_000);
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await database?.drop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });
  return () => {
    if (!fixture) throw new Error('the process fixture is set up in beforeAll');
    return fixture;
  };
}
