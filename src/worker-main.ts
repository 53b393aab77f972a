/**
 * `npm run worker`: a job worker as its own process, for scaling batch jobs past the server. It needs the
 * server's database (DATABASE_URL) and, when the server uses Redis for the queue, the same REDIS_URL and
 * JOBS_QUEUE. It also makes webhook deliveries. Its progress reaches the servers' WebSocket clients through the database (see jobs/events.ts).
 */
import { writeFile } from 'node:fs/promises';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/connect.js';
import { openEngine } from './inference/from-config.js';
import { startEvents } from './events/index.js';
import { startJobWorker } from './jobs/worker.js';
import { createLogger } from './log.js';
import { checkQueue } from './queue/health.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
    if (!config.databaseUrl) throw new ConfigError('npm run worker needs DATABASE_URL: the database of the server whose jobs it runs.');
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, undefined, config.logFormat).child({ role: 'worker' });
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
  const engine = await openEngine(config, logger);
  // Jobs send job.completed / job.failed (and balance.low) to webhooks; this process delivers them too.
  const events = startEvents({ config, db: database.db, logger, databaseUrl: database.url, deliver: true });
  const worker = startJobWorker({ config, db: database.db, engine, logger, databaseUrl: database.url, events: events.webhooks });

  // For container health checks: the time, written every 10 s while the database and the queue's store answer.
  const heartbeatFile = config.workerHeartbeatFile;
  const beat = async (): Promise<void> => {
    if (!heartbeatFile) return;
    const [db, queue] = await Promise.all([database.ping().catch(() => false), checkQueue(config, database).catch(() => ({ ok: false }))]);
    if (db && queue.ok) await writeFile(heartbeatFile, String(Date.now())).catch((err: unknown) => logger.warn({ err }, 'could not write the heartbeat file'));
  };
  await beat();
  const heartbeat = heartbeatFile ? setInterval(() => void beat(), 10_000) : undefined;

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'stopping the worker');
    clearInterval(heartbeat);
    void (async () => {
      await worker.close(config.shutdownGraceMs);
      await events.close(1000);
      await engine.close();
      await database.close();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`Lookout worker failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
