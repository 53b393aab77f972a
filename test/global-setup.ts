/**
 * One PostgreSQL for the whole run: the server at DATABASE_URL when it is set (CI runs the suite once that
 * way against the machine's PostgreSQL), otherwise an embedded PostgreSQL started here — the same code path
 * the server uses by default. Each test file then creates its own database on it (see helpers/db.ts).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.js';
import { createLogger } from '../src/log.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgKind: 'embedded' | 'external';
  }
}

let embedded: EmbeddedDatabase | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const external = process.env['DATABASE_URL'];
  if (external) {
    project.provide('pgAdminUrl', external);
    project.provide('pgKind', 'external');
    return;
  }
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lookout-test-pg-'));
  await fs.chmod(dir, 0o711); // as root, PostgreSQL runs as the `postgres` user and must reach its directory
  embedded = await startEmbeddedPostgres(dir, createLogger('warn'), 'lookout');
  project.provide('pgAdminUrl', embedded.adminUrl);
  project.provide('pgKind', 'embedded');
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}
