/** A temporary folder for a test file: made before its tests (or before each), removed after them whatever happens. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

/**
 * Registers the hooks; the returned getter gives the folder's path once they have run. `each`: a fresh folder for
 * every test instead of one for the file.
 */
export function useTempDir(prefix: string, opts: { each?: boolean } = {}): () => string {
  let dir: string | undefined;
  const make = async (): Promise<void> => {
    dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  };
  const remove = async (): Promise<void> => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  };
  if (opts.each) {
    beforeEach(make);
    afterEach(remove);
  } else {
    beforeAll(make);
    afterAll(remove);
  }
  return () => {
    if (!dir) throw new Error('the temporary folder is made by a before hook');
    return dir;
  };
}
