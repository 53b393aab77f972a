/**
 * Prometheus metrics (prom-client), one registry per app. Counters and histograms are fed where things happen
 * (a live frame processed, a job item done, a charge, an HTTP request); gauges of state that lives elsewhere
 * (live sessions, WebSocket connections, jobs by state, queue depth) are read when /metrics is scraped.
 * Every name and label is listed in the README ("Metrics").
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds; live frames are tens of milliseconds, job items up to minutes. */
const FRAME_BUCKETS = [0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5];
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60];
const JOB_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const ITEM_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120];

export type LiveStage = 'queue' | 'decode' | 'infer' | 'total';
export type DropReason = 'stale' | 'late' | 'other';
export type ChargeKind = 'image' | 'video' | 'live';

/** Where scrape-time gauges read from; the app sets them once its parts exist. */
export interface MetricSources {
  liveSessions?: () => number;
  wsConnections?: () => number;
  wsBuffered?: () => { total: number; max: number };
  /** Jobs by state, from the database (every process's jobs). */
  jobsByState?: () => Promise<Record<string, number>>;
  /** The queue's own counts (waiting, active, delayed, ...). */
  queueDepth?: () => Promise<Record<string, number>>;
  /** The execution provider each loaded model runs on. */
  modelProviders?: () => Record<string, readonly string[]>;
}

/** A gauge read when scraped: `read` sets it (from state that lives elsewhere). */
type GaugeReader<L extends string> = (g: Gauge<L>) => void | Promise<void>;

export class Metrics {
  readonly registry = new Registry();
  readonly sources: MetricSources = {};

  #counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  #histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    return new Histogram<L>({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  #gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[], read: GaugeReader<L>): void {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        return read(this);
      },
    });
  }

  readonly liveStage = this.#histogram(
    'lookout_live_frame_stage_seconds',
    'Time a processed live frame spent in each stage: queue (decoded, waiting for the detector), decode, infer (the detector), classify (the classifier stage, frames with crops only), track (tracker, zones, filters), total (last RTP packet in to detections sent).',
    ['model', 'stage'],
    FRAME_BUCKETS,
  );
  readonly liveFramesIn = this.#counter('lookout_live_frames_received_total', 'Live video frames received (whole encoded frames).', ['model']);
  readonly liveFramesProcessed = this.#counter('lookout_live_frames_processed_total', 'Live frames run through the detector, with detections sent.', ['model']);
  readonly liveFramesDropped = this.#counter(
    'lookout_live_frames_dropped_total',
    'Live frames not processed: stale (a newer frame replaced it), late (older than the budget), other (undecodable, or in flight at the end).',
    ['model', 'reason'],
  );
  readonly liveSessionsStarted = this.#counter('lookout_live_sessions_started_total', 'Live sessions started.', ['model', 'via']);
  readonly liveSessionsEnded = this.#counter('lookout_live_sessions_ended_total', 'Live sessions ended, by reason.', ['model', 'reason']);
  readonly jobDuration = this.#histogram('lookout_job_duration_seconds', 'Jobs run by this process, from start to end, by final state.', ['model', 'state'], JOB_BUCKETS);
  readonly jobItemDuration = this.#histogram(
    'lookout_job_item_duration_seconds',
    'Job items (an image, or a whole video file) processed by this process: read, detect, annotate, store; images are done in batches, and each gets its batch\'s time divided by its size.',
    ['model', 'kind'],
    ITEM_BUCKETS,
  );
  readonly jobItems = this.#counter('lookout_job_items_total', 'Job items processed by this process: images and video frames.', ['model', 'kind']);
  readonly tokensCharged = this.#counter('lookout_tokens_charged_total', 'Tokens charged by this process, by what they paid for (image, video frames, live frames).', ['kind']);
  readonly httpRequests = this.#counter('lookout_http_requests_total', 'HTTP requests answered, by route pattern (e.g. /api/v1/jobs/:id) and status.', ['method', 'route', 'status']);
  readonly httpDuration = this.#histogram('lookout_http_request_duration_seconds', 'HTTP request handling time, by route pattern.', ['method', 'route'], HTTP_BUCKETS);
  readonly rateLimited = this.#counter('lookout_rate_limited_total', 'Requests refused with 429, by limit.', ['limit']);
  readonly retentionRemoved = this.#counter('lookout_retention_removed_total', 'What retention and repair sweeps removed, by kind: recordings, job_results (finished jobs purged), live_detections (frames), orphan_files (files no row pointed at), dangling_rows (rows whose file was missing, repaired).', ['kind']);
  readonly liveDetectionsStored = this.#counter('lookout_live_detections_stored_total', 'Live frames whose detections were stored (live_detections rows written).', []);
  readonly liveDetectionWrites = this.#histogram(
    'lookout_live_detection_write_seconds',
    'Batched writes of stored live detections (one multi-row INSERT each): how long each took, waiting for PostgreSQL included.',
    [],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  );
  readonly liveBatchSize = this.#histogram(
    'lookout_live_batch_size',
    'Live frames per inference run (1 unless batching across sessions is on; see LIVE_BATCH).',
    ['model'],
    [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64],
  );
  readonly liveParallelRuns = this.#counter(
    'lookout_live_parallel_runs_total',
    'Live inference runs started while another run of the same model was still going (MODEL_WORKERS above 1).',
    ['model'],
  );
  readonly clusterForwarded = this.#counter('lookout_cluster_forwarded_total', 'Requests for a live session another server owns, forwarded to it by this server (stop, ice, configure, watch).', ['op']);
  readonly clusterServed = this.#counter('lookout_cluster_served_total', 'Requests forwarded to this server by another one, for a live session this server runs.', ['op']);
  readonly clusterLost = this.#counter('lookout_cluster_sessions_lost_total', 'Live sessions of lost servers (no heartbeat) that this server ended as server_lost.');
  readonly wsDropped = this.#counter(
    'lookout_ws_messages_dropped_total',
    'Direct WebSocket replies not sent to a client that was not reading (topic messages to such a client are dropped by uWS without a count).',
  );

  constructor(opts: { processMetrics?: boolean } = {}) {
    const sources = this.sources;
    this.#gauge('lookout_live_sessions_active', 'Live sessions running in this process.', [], (g) => g.set(sources.liveSessions?.() ?? 0));
    this.#gauge('lookout_ws_connections', 'Open WebSocket connections to this process.', [], (g) => g.set(sources.wsConnections?.() ?? 0));
    this.#gauge(
      'lookout_ws_buffered_bytes',
      'Bytes written to WebSockets that their clients have not read yet: in total, and for the worst socket (each is capped; past the cap, messages to it are dropped).',
      ['of'],
      (g) => {
        const b = sources.wsBuffered?.() ?? { total: 0, max: 0 };
        g.set({ of: 'total' }, b.total);
        g.set({ of: 'max_socket' }, b.max);
      },
    );
    this.#gauge('lookout_model_provider', 'Loaded models by the execution provider they run on (1 per loaded model).', ['model', 'provider'], (g) => {
      g.reset();
      for (const [model, providers] of Object.entries(sources.modelProviders?.() ?? {})) for (const provider of providers) g.set({ model, provider }, 1);
    });
    this.#gauge('lookout_jobs', 'Jobs by state (all processes: read from the database).', ['state'], async (g) => {
      const counts = (await sources.jobsByState?.().catch(() => undefined)) ?? {};
      g.reset();
      for (const state of ['queued', 'running', 'completed', 'failed', 'cancelled']) g.set({ state }, counts[state] ?? 0);
    });
    this.#gauge('lookout_queue_jobs', "The job queue's depth by queue state (waiting, active, delayed, ...).", ['state'], async (g) => {
      const counts = (await sources.queueDepth?.().catch(() => undefined)) ?? {};
      g.reset();
      for (const [state, n] of Object.entries(counts)) g.set({ state }, n);
    });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'lookout_' });
  }

  /** Prometheus text exposition format. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** Adds the growth of a monotonically increasing tally to a counter (for counts kept elsewhere). */
export class CounterFeed {
  #last = 0;
  constructor(private readonly add: (n: number) => void) {}
  to(total: number): void {
    if (total > this.#last) this.add(total - this.#last);
    this.#last = Math.max(this.#last, total);
  }
}
