/** Makes sure the bundled models exist (idempotent `npm run models:setup`) before model tests. */
import { join } from 'node:path';
import { setupModels } from '../../scripts/setup-models.js';

export const MODELS_DIR = join(import.meta.dirname, '..', '..', 'models');
export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

let ready: Promise<unknown> | undefined;

export function ensureModels(): Promise<unknown> {
  ready ??= setupModels({ modelsDir: MODELS_DIR, log: () => undefined }).catch((e: unknown) => {
    throw new Error(`Model setup failed (run \`npm run models:setup\` to see why): ${e instanceof Error ? e.message : String(e)}`);
  });
  return ready;
}
