/**
 * The fixture of tests that run the server as processes of its own: models set up, a database of the file's own,
 * a temporary folder (with a face clip when asked), and every process the test tracks killed afterwards, before the
 * database is dropped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase } from './db.js';
import { makeFaceClip } from './media.js';
import { ensureModels } from './onnx-setup.js';
import type { Spawned } from './process.js';

export interface ProcessFixture {
  readonly database: Awaited<ReturnType<typeof createTestDatabase>>;
  readonly tmp: string;
  /** `<tmp>/face.mp4`, made when `clipSeconds` was given. */
  readonly clip: string;
  /** Kills `p` (SIGKILL) after the file's tests, if it is still running; returns it. */
  track(p: Spawned): Spawned;
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
    fixture = { database, tmp, clip, track: (p) => (procs.push(p), p) };
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
