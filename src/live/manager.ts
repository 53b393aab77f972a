/**
 * All live sessions of this server: starts them from offers (WebSocket or WHIP) within the per-user and
 * per-server limits, finds them for stop/ICE/subscribe, shares one scheduler per model between them, and
 * ends them all at shutdown. Sessions a crashed process left open are closed (and refunded) at start.
 */
import { mkdir } from 'node:fs/promises';
import type { Config } from '../config.js';
import type { Db } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { DetectionEngine } from '../inference/index.js';
import type { Detector } from '../inference/types.js';
import type { EventSink } from '../events/types.js';
import type { Metrics } from '../metrics.js';
import type { Logger } from '../log.js';
import { resolveFfmpeg } from '../media/ffmpeg.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { loadClassifier, resolvePipeline } from '../pipeline/resolve.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { LivePipeline } from './live-pipeline.js';
import type { LiveEvent } from './messages.js';
import { closeAbandonedSessions, getLiveSession, toPublicSession } from './repo.js';
import { DetectorScheduler } from './scheduler.js';
import { LiveSession } from './session.js';
import { DetectionStore } from './detection-store.js';
import { LocalSlots, type SessionSlots, type Slot } from './slots.js';

const SWEEP_INTERVAL_MS = 60_000;

export interface LiveManagerDeps {
  readonly config: Config;
  readonly db: Db;
  readonly engine: DetectionEngine;
  readonly logger: Logger;
  readonly publish: (sessionId: string, event: LiveEvent) => void;
  readonly metrics?: Metrics;
  /** Where live.track, live.zone and live.ended go (webhooks). */
  readonly events?: EventSink;
  /** Per-user and total places (default: this process counts its own, LIVE_MAX_SESSIONS_PER_USER per user). */
  readonly slots?: SessionSlots;
  /** Told when a session has started (before its answer goes out) and when it has ended: cluster ownership. */
  readonly lifecycle?: { started(session: LiveSession): Promise<void>; ended(session: LiveSession): void };
}

export interface StartLiveOptions {
  readonly userId: string;
  readonly sdp: unknown;
  readonly via: 'ws' | 'whip';
  /** The pipeline (model, classifier, filters, zones, track), already parsed from the message or query. */
  readonly pipeline: PipelineSpec;
  readonly budgetMs?: unknown;
  readonly record?: unknown;
  /** Keep the detections (default true). */
  readonly store?: unknown;
}

export class LiveManager {
  readonly #d: LiveManagerDeps;
  readonly #sessions = new Map<string, LiveSession>();
  readonly #schedulers = new Map<string, DetectorScheduler>();
  readonly #detections: DetectionStore;
  readonly #slots: SessionSlots;
  /** Starts in progress count against this server's limit too. */
  #starting = 0;
  #closed = false;
  #draining: { deadline: number; done: Promise<void> } | undefined;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(deps: LiveManagerDeps) {
    this.#d = deps;
    this.#detections = new DetectionStore(deps.db, deps.logger, deps.metrics);
    this.#slots = deps.slots ?? new LocalSlots(deps.config.live.maxSessionsPerUser, deps.config.live.maxSessionsTotal || Infinity);
  }

  /** Prepares the recordings folder and closes sessions a previous process left open. */
  async init(): Promise<void> {
    await mkdir(this.#d.config.recordingsDir, { recursive: true });
    // At start-up, every session still 'live' under this node's id was left by a previous process.
    await this.sweepAbandoned(true);
    // A process that crashed moments before this one started still had fresh heartbeats: look again later.
    this.#sweeper = setInterval(() => void this.sweepAbandoned(false), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  /**
   * Closes sessions a stopped process left open: those without a heartbeat for 30 s and, at start-up only
   * (`startUp`), all of this node's. Later sweeps must not take this node's own sessions: they are running here.
   */
  async sweepAbandoned(startUp: boolean): Promise<number> {
    try {
      const closed = await closeAbandonedSessions(this.#d.db, 30, startUp ? this.#d.config.nodeId : undefined);
      if (closed > 0) this.#d.logger.warn({ sessions: closed }, 'closed live sessions left open by a stopped process (refunded their unspent tokens)');
      return closed;
    } catch (err) {
      this.#d.logger.error({ err }, 'live: sweeping abandoned sessions failed');
      return 0;
    }
  }

  get count(): number {
    return this.#sessions.size;
  }

  /** True when this server takes no new session: at LIVE_MAX_SESSIONS, draining or shutting down. */
  get full(): boolean {
    return this.#closed || this.#draining !== undefined || this.#sessions.size + this.#starting >= this.#d.config.live.maxSessions;
  }

  get draining(): boolean {
    return this.#draining !== undefined;
  }

  /** Whether a session of this id runs here (whoever owns it). */
  has(id: string): boolean {
    return this.#sessions.has(id);
  }

  /** Batching per LIVE_BATCH: `auto` batches on GPU providers only (on the CPU one run already uses every core). */
  #scheduler(detector: Detector): DetectorScheduler {
    const { mode, maxSize, maxWaitMs } = this.#d.config.live.batch;
    const on = mode === 'on' || (mode === 'auto' && detector.provider !== 'cpu');
    const model = detector.model.name;
    const scheduler = new DetectorScheduler(detector, {
      batch: on ? { maxSize, maxWaitMs } : undefined,
      onRun: (size, running) => {
        this.#d.metrics?.liveBatchSize.observe({ model }, size);
        if (running > 1) this.#d.metrics?.liveParallelRuns.inc({ model });
      },
      onDeliveryError: (err) => this.#d.logger.error({ err, model }, 'live: delivering detections failed'),
    });
    this.#d.logger.info({ model, provider: detector.provider, batchable: detector.batchable, maxBatch: scheduler.maxBatch, parallelism: scheduler.parallelism }, 'live: detector scheduler ready');
    return scheduler;
  }

  /** The session, if it exists and belongs to `userId` (someone else's is reported as not found). */
  get(id: unknown, userId: string): LiveSession {
    const s = typeof id === 'string' ? this.#sessions.get(id) : undefined;
    if (!s || s.userId !== userId) throw new AppError('NOT_FOUND', 'Live session not found (or it has ended).');
    return s;
  }

  async start(o: StartLiveOptions): Promise<{ session: LiveSession; answer: string }> {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'The server is shutting down.', { retryAfterS: 5 });
    const { live } = this.#d.config;
    const budgetMs = o.budgetMs === undefined || o.budgetMs === null ? live.budgetMs : o.budgetMs;
    if (typeof budgetMs !== 'number' || !Number.isInteger(budgetMs) || budgetMs < 5 || budgetMs > 10_000) {
      throw new AppError('VALIDATION_FAILED', 'budgetMs must be a whole number of milliseconds from 5 to 10000.');
    }
    const record = o.record === undefined || o.record === null ? live.record : o.record;
    if (typeof record !== 'boolean') throw new AppError('VALIDATION_FAILED', 'record must be true or false.');
    const store = o.store === undefined || o.store === null ? true : o.store;
    if (typeof store !== 'boolean') throw new AppError('VALIDATION_FAILED', 'store must be true or false.');
    if (this.#draining) throw new AppError('UNAVAILABLE', 'This server is draining: it takes no new live sessions.', { retryAfterS: 5 });
    let slot: Slot | undefined = await this.#slots.acquire(o.userId); // CONFLICT at the per-user limit, UNAVAILABLE at the total
    if (this.#sessions.size + this.#starting >= live.maxSessions) {
      await slot.release();
      throw new AppError('UNAVAILABLE', `This server is running its maximum of ${live.maxSessions} live sessions; try again shortly.`, { retryAfterS: 10 });
    }
    this.#starting++;
    try {
      const { engine } = this.#d;
      // NOT_FOUND for an unknown model; VALIDATION_FAILED for a classifier as the model or a bad classifier.
      const resolved = await resolvePipeline(engine, o.pipeline, false);
      const detector = await engine.get(resolved.model);
      const { model: _model, ...spec } = o.pipeline;
      const cropPrice = this.#d.config.tokens.priceCropMilli;
      const pipeline = (sessionId: string, spend: (milli: number) => boolean): LivePipeline => {
        const payCrops = cropPrice > 0 ? (n: number): boolean => spend(n * cropPrice) : undefined;
        const parts = { tracker: { lostMs: this.#d.config.tracking.lostMs }, ...(resolved.classifier ? { classifier: resolved.classifier } : {}), ...(payCrops ? { payCrops } : {}) };
        return new LivePipeline(sessionId, new Pipeline(spec, parts, true), (name) => loadClassifier(engine, name));
      };
      const ffmpeg = await resolveFfmpeg({ envPath: this.#d.config.ffmpegPath }).catch((err: unknown) => {
        throw new AppError('UNAVAILABLE', `ffmpeg is not available: ${err instanceof Error ? err.message : String(err)}`);
      });
      let scheduler = this.#schedulers.get(detector.model.name);
      if (!scheduler || scheduler.detector !== detector) {
        scheduler = this.#scheduler(detector);
        this.#schedulers.set(detector.model.name, scheduler);
      }
      const held = slot;
      const started = await LiveSession.start(
        {
          db: this.#d.db,
          logger: this.#d.logger,
          live,
          recordingsDir: this.#d.config.recordingsDir,
          priceMilli: this.#d.config.tokens.priceLiveFrameMilli,
          ffmpeg,
          detector,
          scheduler,
          publish: this.#d.publish,
          metrics: this.#d.metrics,
          nodeId: this.#d.config.nodeId,
          pipeline,
          onEnded: (s) => {
            this.#sessions.delete(s.id);
            void held.release().catch((err: unknown) => this.#d.logger.warn({ err, sessionId: s.id }, 'live: giving back a session place failed'));
            this.#d.lifecycle?.ended(s);
          },
          onEvent: (s, ev) => this.#toWebhooks(s, ev),
          detections: this.#detections,
        },
        { userId: o.userId, sdp: o.sdp, via: o.via, budgetMs, record, store },
      );
      slot = undefined; // the session gives it back when it ends
      this.#sessions.set(started.session.id, started.session);
      if (this.#closed) {
        await started.session.end('stopped');
        throw new AppError('UNAVAILABLE', 'The server is shutting down.', { retryAfterS: 5 });
      }
      try {
        await this.#d.lifecycle?.started(started.session);
      } catch (err) {
        await started.session.end('error', 'The session could not be registered with the cluster.');
        throw err;
      }
      return started;
    } finally {
      this.#starting--;
      await slot?.release();
    }
  }

  /** Ends the user's sessions on this server (their account was disabled or deleted); how many. */
  async endForUser(userId: string, message: string): Promise<number> {
    const mine = [...this.#sessions.values()].filter((s) => s.userId === userId);
    await Promise.all(mine.map((s) => s.end('stopped', message)));
    return mine.length;
  }

  /**
   * Takes no new session from now, lets the running ones go on until `deadlineMs` from now, then ends those left
   * as `stopped`. Resolves when none is left. A second call keeps the earlier deadline when it is sooner.
   */
  drain(deadlineMs: number, message = 'The server is shutting down.'): Promise<void> {
    const deadline = performance.now() + deadlineMs;
    if (this.#draining && this.#draining.deadline <= deadline) return this.#draining.done;
    const done = (async () => {
      while (this.#sessions.size > 0 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, Math.min(250, Math.max(1, deadline - performance.now()))));
        if (this.#draining?.deadline !== deadline) return; // a sooner deadline took over
      }
      await Promise.all([...this.#sessions.values()].map((s) => s.end('stopped', message)));
    })();
    this.#draining = { deadline, done };
    this.#d.logger.info({ liveSessions: this.#sessions.size, deadlineS: Math.round(deadlineMs / 1000) }, 'live: draining');
    return done;
  }

  /** Ends every session (server shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    await Promise.all([...this.#sessions.values()].map((s) => s.end('stopped', 'The server is shutting down.')));
    for (const s of this.#schedulers.values()) s.close();
    await this.#detections.flush();
  }

  /** live.track (a track started), live.zone and live.ended (with the saved session) go to the owner's webhooks. */
  #toWebhooks(s: LiveSession, ev: LiveEvent): void {
    const sink = this.#d.events;
    if (!sink) return;
    if (ev.type === 'track' && ev.event === 'started') {
      sink.emit(s.userId, 'live.track', { sessionId: ev.sessionId, trackId: ev.trackId, label: ev.label, at: ev.at });
    } else if (ev.type === 'zone') {
      sink.emit(s.userId, 'live.zone', { sessionId: ev.sessionId, event: ev.event, zone: ev.zone, trackId: ev.trackId, label: ev.label, at: ev.at });
    } else if (ev.type === 'live.ended') {
      getLiveSession(this.#d.db, s.userId, s.id)
        .then((row) => row && sink.emit(s.userId, 'live.ended', { session: toPublicSession(row) }))
        .catch((err: unknown) => this.#d.logger.error({ err, sessionId: s.id }, 'live: telling webhooks the session ended failed'));
    }
  }

}
