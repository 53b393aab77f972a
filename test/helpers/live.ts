/**
 * The fixture every live-session test file needs: models set up, a clip of a moving face, and a real
 * server (models preloaded) recording into a temporary folder; all removed after the file's tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { makeFaceClip } from './media.js';
import { ensureModels } from './onnx-setup.js';
import { startTestServer, type TestServer } from './server.js';

export interface LiveFixture {
  readonly server: TestServer;
  /** The temporary folder holding the clip, the recordings and anything a test writes. */
  readonly tmp: string;
  readonly clip: string;
  readonly recordings: string;
}

/** Registers beforeAll/afterAll; the returned getter works once beforeAll has run. */
export function useLiveServer(opts: { clipSeconds: number; env?: Record<string, string> }): () => LiveFixture {
  let fixture: LiveFixture | undefined;
  let tmp: string | undefined;
  beforeAll(async () => {
    await ensureModels();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-live-'));
    const clip = path.join(tmp, 'face.mp4');
    const recordings = path.join(tmp, 'recordings');
    await makeFaceClip(clip, { seconds: opts.clipSeconds });
    const server = await startTestServer({ PRELOAD_MODELS: 'true', RECORDINGS_DIR: recordings, ...opts.env });
    fixture = { server, tmp, clip, recordings };
  }, 120_000);
  afterAll(async () => {
    await fixture?.server.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });
  return () => {
    if (!fixture) throw new Error('the live fixture is set up in beforeAll');
    return fixture;
  };
}
