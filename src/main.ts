/**
 * Composition root: read config, start the app, own the process signals. Nothing else runs on import.
 */
import { startApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { TlsConfigError } from './http/tls.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, undefined, config.logFormat);
  let app;
  try {
    app = await startApp(config, logger);
  } catch (err) {
    if (err instanceof TlsConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const running = app;
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading the HTTPS certificate');
    running.reloadTls().catch((err: unknown) => logger.error({ err }, 'reloading the HTTPS certificate failed; the previous one is still served'));
  });

  // SIGUSR2: drain without exiting (a Kubernetes preStop hook sends it: src/cli/drain.ts); SIGTERM follows.
  process.on('SIGUSR2', () => {
    logger.info({ drainS: config.drainTimeoutS }, 'SIGUSR2: draining');
    void running.deps.cluster.drain(config.nodeId, config.drainTimeoutS).catch((err: unknown) => logger.error({ err }, 'draining failed'));
  });

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'signal received');
    // The steps share SHUTDOWN_GRACE_MS; closing the stores after them takes a moment more. Past that, give up.
    setTimeout(() => {
      logger.error({ graceMs: config.shutdownGraceMs }, 'shutdown did not finish in time: exiting');
      process.exit(1);
    }, config.drainTimeoutS * 1000 + config.shutdownGraceMs + 5000).unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`Lookout failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
