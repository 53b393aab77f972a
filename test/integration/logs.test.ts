/**
 * Log lines: readable for a person at a terminal, JSON lines for a collector. The terminal is a real
 * pseudo-terminal (util-linux `script`), the server the real process.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { freePort, ROOT } from '../helpers/process.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let tmp: string;
beforeAll(async () => {
  database = await createTestDatabase();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-logs-'));
});
afterAll(async () => {
  await database?.drop();
  await rm(tmp, { recursive: true, force: true });
});

/** Runs the server for a few seconds, stdout a terminal or a pipe, and returns what it printed. */
async function run(tty: boolean): Promise<string> {
  const port = await freePort();
  const env = `DATA_DIR=${tmp}/data PORT=${port} HTTPS_PORT=0 HOST=127.0.0.1 DATABASE_URL=${database.url} PRELOAD_MODELS=false`;
  // SIGINT after 6 s: the server shuts down on its own and prints its last lines.
  const cmd = `env ${env} timeout -s INT 6 ${process.execPath} --import tsx ${path.join(ROOT, 'src/main.ts')}`;
  const { stdout } = tty
    ? await promisify(execFile)('script', ['-qc', cmd, '/dev/null'], { cwd: ROOT, timeout: 60_000 })
    : await promisify(execFile)('sh', ['-c', `${cmd} | cat`], { cwd: ROOT, timeout: 60_000 });
  // eslint-disable-next-line no-control-regex
  return stdout.replace(/\u001b\[[0-9;]*m/g, '').replace(/\r/g, '');
}

describe('log format (LOG_FORMAT=auto)', () => {
  it('is readable lines on a terminal', async () => {
    const out = await run(true);
    const lines = out.split('\n').filter(Boolean);
    expect(lines.find((l) => l.includes('listening on http'))).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Lookout .* listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
  }, 90_000);

  it('is JSON lines through a pipe', async () => {
    const lines = (await run(false)).split('\n').filter(Boolean);
    const listening = lines.find((l) => l.includes('listening on http'));
    expect(JSON.parse(listening!)).toMatchObject({ level: 30, service: 'lookout', msg: expect.stringMatching(/listening on http/) as unknown });
  }, 90_000);
});
