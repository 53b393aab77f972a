/** Makes sure the bundled models exist (idempotent `npm run models:setup`) before model tests. */
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { setupModels } from '../../scripts/setup-models.js';
import { DetectionEngine } from '../../src/inference/index.js';

export const MODELS_DIR = join(import.meta.dirname, '..', '..', 'models');
export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

let ready: Promise<unknown> | undefined;

export function ensureModels(): Promise<unknown> {
  ready ??= setupModels({ modelsDir: MODELS_DIR, log: () => undefined }).catch((e: unknown) => {
    throw new Error(`Model setup failed (run \`npm run models:setup\` to see why): ${e instanceof Error ? e.message : String(e)}`);
  });
  return ready;
}

/**
 * Opens a CPU DetectionEngine on the folder `prepare` yields, before the file's tests, and closes it after.
 * Returns a getter, since the engine exists only once beforeAll has run.
 */
export function useEngine(prepare: () => Promise<string>, threads: { intraOpThreads?: number; interOpThreads?: number } = {}): () => DetectionEngine {
  let engine: DetectionEngine | undefined;
  beforeAll(async () => {
    engine = await DetectionEngine.open({
      modelsDir: await prepare(),
      providers: ['cpu'],
      intraOpThreads: threads.intraOpThreads ?? 0,
      interOpThreads: threads.interOpThreads ?? 1,
    });
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
  });
  return () => {
    if (!engine) throw new Error('the engine opens in beforeAll');
    return engine;
  };
}
