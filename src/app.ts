/**
 * Builds a running Lookout from a config: database, routes, HTTP server. `main.ts` adds signals; tests call
 * `startApp` directly on an ephemeral port.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { actionLimit, closeLimit, enforce, RateLimiter, type SharedStore } from './accounts/rate-limit.js';
import { Cluster } from './cluster/index.js';
import { ensureAdmin } from './accounts/users.js';
import type { Config } from './config.js';
import { openDatabase, type OpenDatabase } from './db/connect.js';
import type { Logger } from './log.js';
import { createAuthenticator } from './http/auth.js';
import type { AppDeps, HealthCheck } from './http/deps.js';
import { buildOpenApi } from './http/openapi.js';
import { Router } from './http/router.js';
import { accountRoutes } from './http/routes/accounts.js';
import { apiKeyRoutes } from './http/routes/api-keys.js';
import { deviceRoutes } from './http/routes/devices.js';
import { deepstackRoutes, inferRoutes } from './http/routes/infer.js';
import { InferGate } from './infer/gate.js';
import { systemRoutes } from './http/routes/system.js';
import { adminRoutes } from './http/routes/admin.js';
import { tokenRoutes } from './http/routes/tokens.js';
import { HttpServer } from './http/uws.js';
import { lanAddresses, RENEW_BEFORE_DAYS, tlsMaterial } from './http/tls.js';
import { checkQueue } from './queue/health.js';
import { modelRoutes } from './http/routes/models.js';
import { openEngine } from './inference/from-config.js';
import { warmModels, type WarmState } from './inference/warm.js';
import { resolveFfmpeg } from './media/ffmpeg.js';
import { liveRoutes } from './http/routes/live.js';
import { LiveManager } from './live/manager.js';
import { toTokens } from './tokens/amount.js';
import { onBalanceChange } from './tokens/ledger.js';
import { userTopic, WsHub } from './ws/hub.js';
import { ACCOUNT_DISABLED, MessageLimit } from './ws/protocol.js';
import { datasetRoutes } from './http/routes/datasets.js';
import { jobRoutes } from './http/routes/jobs.js';
import { JOB_CHANNEL, type JobEvent } from './jobs/events.js';
import { NotifyListener } from './db/listener.js';
import { AUTH_CHANNEL, liveSessionIds, type AuthRevoked } from './accounts/sessions.js';
import { liveKeyIds } from './accounts/api-keys.js';
import { JobQueue } from './jobs/queue.js';
import { Metrics } from './metrics.js';
import { activeJobs, toPublicJob } from './jobs/repo.js';
import { startJobWorker, type JobWorker } from './jobs/worker.js';
import { resolveFfprobe } from './media/ffprobe.js';
import { removeStaleParts, STALE_PART_IDLE_MS } from './datasets/sweep.js';
import { startEvents } from './events/index.js';
import { USER_EVENTS_CHANNEL, type UserNotice } from './events/deliver.js';
import { webhookRoutes } from './http/routes/webhooks.js';
import { startRetention } from './lifecycle/retention.js';

/** The repository root, found from this file whether it runs from src/ (tsx) or dist/src/ (built). */
export const ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      readFileSync(path.join(dir, 'package.json'));
      return dir;
    } catch {
      dir = path.dirname(dir);
    }
  }
  throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
})();

export const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export interface RunningApp {
  readonly port: number;
  readonly url: string;
  readonly database: OpenDatabase;
  readonly deps: AppDeps;
  /** The HTTPS port (0: off). */
  readonly httpsPort: number;
  /** Checks and serves the certificate again (TLS_CERT/TLS_KEY changed on disk; SIGHUP). */
  reloadTls(): Promise<void>;
  /** Graceful: stop accepting, finish in-flight requests (up to the grace period), close the database. */
  close(): Promise<void>;
}

export async function startApp(config: Config, logger: Logger): Promise<RunningApp> {
  // The certificate first: an unusable TLS_CERT/TLS_KEY stops the start before anything else is opened.
  let tls = config.https.port > 0 ? await tlsMaterial(config.https, config.dataDir, logger) : undefined;
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
  const { db } = database;
  try {
    if (config.admin) {
      const admin = await ensureAdmin(db, { ...config.admin, initialMilli: config.tokens.initialMilli, resetPassword: false });
      if (admin.refused) {
        logger.warn(
          { email: config.admin.email, userId: admin.user.id },
          'ADMIN_EMAIL names an account that already exists with another password: it was NOT made an admin ' +
            '(someone may have registered that address first). If the account is yours, make it an admin and set its ' +
            'password with: npm run admin:create -- --email <ADMIN_EMAIL> --password <password>',
        );
      } else if (admin.created) {
        logger.info({ email: config.admin.email }, 'created the first admin from ADMIN_EMAIL');
      } else if (admin.user.role === 'admin') {
        logger.info({ email: config.admin.email }, 'ADMIN_EMAIL is an admin');
      }
    }
  } catch (err) {
    await database.close();
    throw err;
  }

  const engine = await openEngine(config, logger);

  // The hub needs the live manager and the manager publishes through the hub: tie the knot with a ref.
  const hubRef: { current?: WsHub } = {};
  const metrics = new Metrics({ processMetrics: true });
  // Webhooks: the delivery queue, the emitter everything below sends events into, and a delivery worker.
  const events = startEvents({ config, db, logger, databaseUrl: database.url, deliver: true });
  // Several servers on one Redis: the shared places go into the live manager, the router is attached to it.
  const cluster = Cluster.create(config, logger, metrics);
  const live = new LiveManager({
    config,
    db,
    engine,
    logger,
    metrics,
    events: events.webhooks,
    publish: (id, event) => {
      hubRef.current?.publishLive(id, event);
      cluster.router.relay(id, event);
    },
    slots: cluster.slots,
    lifecycle: cluster.enabled ? cluster.lifecycle : undefined,
  });
  cluster.attach({ live, db, events: events.webhooks, deliver: (id, text) => hubRef.current?.publishLiveText(id, text) });
  // Temporary upload files a killed process left behind go now and then every 10 minutes.
  const partSweep = (): Promise<unknown> => removeStaleParts(config.dataDir, STALE_PART_IDLE_MS, logger).catch((err: unknown) => logger.error({ err }, 'sweeping upload leftovers failed'));
  const partSweeper = setInterval(() => void partSweep(), 10 * 60_000);
  partSweeper.unref();
  try {
    await partSweep();
    await live.init();
    cluster.start();
  } catch (err) {
    clearInterval(partSweeper);
    await cluster.close().catch(() => undefined);
    await events.close(0);
    await engine.close();
    await database.close();
    throw err;
  }

  let queueErrorLogged = 0;
  const queue = new JobQueue(config, database.url, (err) => {
    // An unreachable store errors on every retry: log the first and then one a minute (health shows it too).
    if (Date.now() - queueErrorLogged < 60_000) return;
    queueErrorLogged = Date.now();
    logger.error({ err: err.message }, 'job queue store error');
  });
  const ffprobePath = async (): Promise<string> => {
    const ffmpeg = await resolveFfmpeg({ envPath: config.ffmpegPath }).catch(() => undefined);
    return (await resolveFfprobe({ envPath: config.ffprobePath, ffmpegPath: ffmpeg?.path })).path;
  };

  // With several servers, every limit is counted in Redis by all of them together.
  const bus = cluster.bus;
  const shared = bus ? (part: string): SharedStore => ({ redis: bus.redis, keyPrefix: `${bus.ns}:rl:${part}` }) : undefined;
  const limits = {
    live: actionLimit('live session', config.rateLimits.live, 3 * config.rateLimits.live, shared),
    uploads: actionLimit('upload', config.rateLimits.uploads, 3 * config.rateLimits.uploads, shared),
    jobs: actionLimit('job', config.rateLimits.jobs, 3 * config.rateLimits.jobs, shared),
  };
  const onLimited = (name: string): void => metrics.rateLimited.inc({ limit: name });
  const loginLimits = {
    perAccount: new RateLimiter(config.loginLimit.perAccount, config.loginLimit.windowMs, shared?.('login:account')),
    perAddress: new RateLimiter(config.loginLimit.perAddress, config.loginLimit.windowMs, shared?.('login:address')),
  };
  const signupLimit = new RateLimiter(config.registration.perAddress, config.registration.windowMs, shared?.('signup:address'));
  const ports = { http: (): number => 0, https: (): number => 0 };
  const warm: WarmState = { total: config.onnx.preload ? engine.list().length : 0, ready: 0, failed: 0 };
  const checked = async (f: () => Promise<HealthCheck>): Promise<HealthCheck> => {
    try {
      return await f();
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  };
  const deps: AppDeps = {
    config,
    db,
    engine,
    logger,
    live,
    cluster,
    jobs: { db, engine, queue },
    metrics,
    webhooks: events.webhooks,
    ports,
    inferGate: new InferGate(config.infer.concurrency),
    ffprobePath,
    limits,
    loginLimits,
    signupLimit,
    health: {
      db: () => checked(async () => ({ ok: await database.ping(), kind: database.kind })),
      queue: () => checked(() => checkQueue(config, database)),
      ffmpeg: () =>
        checked(async () => {
          const f = await resolveFfmpeg({ envPath: config.ffmpegPath });
          return { ok: true, path: f.path, version: f.version, source: f.source };
        }),
      onnx: async () => ({
        ok: true,
        warming: warm.ready + warm.failed < warm.total,
        models: { total: warm.total, ready: warm.ready, failed: warm.failed },
        requested: config.onnx.providers,
        providers: engine.providers(),
        workers: engine.workers(),
      }),
    },
  };

  const authenticator = createAuthenticator({ db, ...config });
  const router = new Router(authenticator, logger);
  let openapi: Record<string, unknown> | undefined;
  router.add(
    ...accountRoutes(deps),
    ...apiKeyRoutes(deps),
    ...deviceRoutes(deps),
    ...inferRoutes(deps),
    ...deepstackRoutes(deps),
    ...tokenRoutes(deps),
    ...adminRoutes(deps),
    ...modelRoutes(deps),
    ...liveRoutes(deps),
    ...datasetRoutes(deps),
    ...jobRoutes(deps),
    ...webhookRoutes(deps),
    ...systemRoutes(deps, {
      publicDir: path.join(ROOT, 'public'),
      version: VERSION,
      openapi: () => (openapi ??= buildOpenApi(router.routes(), VERSION)),
    }),
  );

  const server = new HttpServer({
    host: config.host,
    port: config.port,
    bodyLimitBytes: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    logger,
    handle: (req) => router.handle(req),
    streamsBody: (method, path) => router.streamsBody(method, path),
    observe: ({ method, route, status, seconds }) => {
      metrics.httpRequests.inc({ method, route, status: String(status) });
      metrics.httpDuration.observe({ method, route }, seconds);
    },
    ...(tls ? { tls: { port: config.https.port, certFile: tls.certFile, keyFile: tls.keyFile } } : {}),
  });
  ports.http = () => server.port;
  ports.https = () => server.httpsPort;
  // Whether a socket's sign-in still holds, asked before paid or data-reading messages: remembered for a few
  // seconds per sign-in, so a burst of messages costs one query (a logout closes its sockets at once anyway).
  // The answer is kept as a promise, so that messages arriving while the query runs wait for that one query.
  const signInChecked = new Map<string, { ok: Promise<boolean>; at: number }>();
  const signedIn = (id: string): Promise<boolean> => {
    const hit = signInChecked.get(id);
    if (hit && performance.now() - hit.at < 5000) return hit.ok;
    if (signInChecked.size > 10_000) signInChecked.clear();
    const ok = (id.startsWith('key:') ? liveKeyIds(db, [id]) : liveSessionIds(db, [id])).then((valid) => valid.has(id));
    ok.catch(() => signInChecked.delete(id)); // a failed query is not remembered
    signInChecked.set(id, { ok, at: performance.now() });
    return ok;
  };
  const wsHub = new WsHub({
    app: server,
    authenticateUpgrade: (req) => authenticator.authenticateUpgrade(req),
    live: () => live,
    router: () => cluster.router,
    elsewhere: () => cluster.elsewhere(),
    logger,
    trustProxy: config.trustProxy,
    jobsSnapshot: async (userId) => (await activeJobs(db, userId)).map(toPublicJob),
    limitLive: (userId, ip) => enforce(limits.live, userId, ip, onLimited),
    maxPerUser: config.ws.maxPerUser,
    messageLimit: new MessageLimit(config.ws.messagesPerS),
    validSessions: async (ids) => new Set([...(await liveSessionIds(db, ids)), ...(await liveKeyIds(db, ids))]),
    signInCheckMs: config.ws.signInCheckMs,
    signedIn: (id) => signedIn(id),
    onDropped: () => metrics.wsDropped.inc(),
  });
  hubRef.current = wsHub;
  metrics.sources.liveSessions = () => live.count;
  metrics.sources.wsConnections = () => wsHub.connections;
  metrics.sources.wsBuffered = () => wsHub.bufferedBytes();
  metrics.sources.queueDepth = () => queue.counts();
  metrics.sources.modelProviders = () => engine.providers();
  metrics.sources.jobsByState = async () => {
    const rows = await db.selectFrom('jobs').select(['state', (eb) => eb.fn.countAll<string>().as('n')]).groupBy('state').execute();
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  };
  // Job events from every process (this one's worker, separate workers, other servers) reach this hub, and so
  // do ended sign-ins (logout on any server closes the sockets they opened here).
  const jobEvents = new NotifyListener(
    database.url,
    {
      [JOB_CHANNEL]: (e) => wsHub.publish(`jobs:${(e as JobEvent).userId}`, { type: 'job', job: (e as JobEvent).job }),
      [USER_EVENTS_CHANNEL]: (e) => wsHub.publish(userTopic((e as UserNotice).userId), (e as UserNotice).message),
      [AUTH_CHANNEL]: (e) => {
        const revoked = e as AuthRevoked;
        if ('sessionId' in revoked) signInChecked.delete(revoked.sessionId);
        else signInChecked.clear();
        wsHub.revoke(revoked);
        // A disabled (or deleted) account's live sessions end too, WHIP ones included, on every server.
        if ('userId' in revoked && revoked.disabled) void live.endForUser(revoked.userId, ACCOUNT_DISABLED);
      },
    },
    logger,
  );
  let worker: JobWorker | undefined;
  let retention: { stop(): Promise<void> } | undefined;
  const stopBalanceEvents = onBalanceChange((userId, milli) => wsHub.publish(userTopic(userId), { type: 'balance', balance: toTokens(milli) }));
  let port: number;
  try {
    await jobEvents.start();
    if (config.jobs.inlineWorker) worker = startJobWorker({ config, db, engine, logger, metrics, databaseUrl: database.url, events: events.webhooks });
    port = await server.listen();
    // Retention and repair: what is older than RETENTION_*_DAYS, and files a crash left without rows.
    retention = startRetention({ db, config, logger, metrics });
  } catch (err) {
    clearInterval(partSweeper);
    stopBalanceEvents();
    await worker?.close(0);
    await jobEvents.close();
    await queue.close();
    await events.close(0);
    await engine.close();
    await database.close();
    throw err;
  }
  // Load and warm every model in the background, so the first frame does not pay for it and /health shows
  // the execution provider each one got; /health says "starting" (503) until it is done.
  if (config.onnx.preload) {
    const { mode, maxSize } = config.live.batch;
    void warmModels(engine, (d) => (mode === 'on' || (mode === 'auto' && d.provider !== 'cpu') ? maxSize : 1), logger, warm);
  }
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  logger.info({ port, host: config.host }, `Lookout ${VERSION} listening on http://${host}:${port}`);
  if (tls) {
    const lan = config.host === '0.0.0.0' || config.host === '::' ? lanAddresses() : [];
    logger.info(
      { httpsPort: server.httpsPort, selfSigned: tls.selfSigned, notAfter: tls.notAfter },
      `HTTPS on https://${host}:${server.httpsPort}` + (lan.length ? `; open on a phone on this network: ${lan.map((ip) => `https://${ip}:${server.httpsPort}`).join(' ')}` : ''),
    );
  }
  // Renew the self-signed certificate before it expires (checked twice a day); TLS_CERT is reloaded on SIGHUP.
  const reloadTls = async (): Promise<void> => {
    if (!tls) return;
    const next = await tlsMaterial(config.https, config.dataDir, logger);
    await server.reloadTls(next);
    tls = next;
    logger.info({ certFile: next.certFile, notAfter: next.notAfter }, 'HTTPS certificate reloaded');
  };
  const renewer = setInterval(() => {
    if (tls?.selfSigned && tls.notAfter.getTime() - Date.now() < RENEW_BEFORE_DAYS * 86_400_000) {
      reloadTls().catch((err: unknown) => logger.error({ err }, 'renewing the HTTPS certificate failed'));
    }
  }, 12 * 3_600_000);
  renewer.unref();

  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${host}:${port}`,
    httpsPort: server.httpsPort,
    reloadTls,
    database,
    deps,
    close: () =>
      (closing ??= (async () => {
        // One grace period for the whole shutdown: each step gets what the ones before it left.
        logger.info({ inFlight: server.inFlight, liveSessions: live.count, drainS: config.drainTimeoutS, graceMs: config.shutdownGraceMs }, 'shutting down');
        // Drain first, still answering requests (a client may stop its session; /health says "draining", so
        // balancers send new ones elsewhere): running sessions get DRAIN_TIMEOUT_S, then end as `stopped`.
        await live.drain(config.drainTimeoutS * 1000);
        const deadline = performance.now() + config.shutdownGraceMs;
        const left = (): number => Math.max(0, deadline - performance.now());
        server.stopAccepting();
        clearInterval(partSweeper);
        clearInterval(renewer);
        await retention?.stop();
        await live.close(); // sessions end as `stopped`: recordings finalised, tokens settled, clients told
        await cluster.close(); // leaves the cluster: the others stop forwarding here at once
        // A job item still running when the grace period is up is left to the queue, which hands it to another worker.
        await worker?.close(left());
        await events.close(left());
        stopBalanceEvents();
        wsHub.close();
        await server.close(left());
        await jobEvents.close();
        await queue.close();
        loginLimits.perAccount.close();
        loginLimits.perAddress.close();
        Object.values(limits).forEach(closeLimit);
        await engine.close();
        await database.close();
        logger.info('stopped');
      })()),
  };
}
