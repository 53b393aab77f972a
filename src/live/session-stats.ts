/**
 * A live session's frame accounting and latency: the counters every frame ends in (processed, or dropped stale,
 * late or other), the whole-session histogram and last-second windows, the per-stage metrics, and the two views
 * made from them: `live.stats` for clients and the progress saved on the session's row.
 */
import { CounterFeed, type Metrics } from '../metrics.js';
import { toTokens } from '../tokens/amount.js';
import type { LiveCodec } from './frame-assembler.js';
import { LatencyHistogram, LatencyWindow } from './latency.js';
import type { DetectionsMessage, LiveStats } from './messages.js';
import type { LiveProgress } from './repo.js';

/** What the session adds to the figures: its charge and the tracks counted by its pipeline. */
export interface StatsExtras {
  readonly chargedMilli: number;
  readonly counts: Record<string, number>;
}

export class SessionStats {
  framesIn = 0;
  processed = 0;
  stale = 0;
  late = 0;
  other = 0;
  /** The last frame taken was already past the budget (processed anyway so the session does not starve). */
  pipelineOverBudget = false;
  codec: LiveCodec | null = null;
  width: number | null = null;
  height: number | null = null;
  readonly #latency = new LatencyHistogram();
  readonly #recent = new LatencyWindow();
  readonly #recentModel = new LatencyWindow();
  /** The stages after the detector (classifier, tracker) per frame: the budget covers them too. */
  readonly #recentPost = new LatencyWindow();
  readonly #feeds: Record<'in' | 'processed' | 'stale' | 'late' | 'other', CounterFeed> | undefined;

  constructor(
    readonly budgetMs: number,
    readonly model: string,
    private readonly metrics?: Metrics,
  ) {
    const m = metrics;
    this.#feeds = m
      ? {
          in: new CounterFeed((n) => m.liveFramesIn.inc({ model }, n)),
          processed: new CounterFeed((n) => m.liveFramesProcessed.inc({ model }, n)),
          stale: new CounterFeed((n) => m.liveFramesDropped.inc({ model, reason: 'stale' }, n)),
          late: new CounterFeed((n) => m.liveFramesDropped.inc({ model, reason: 'late' }, n)),
          other: new CounterFeed((n) => m.liveFramesDropped.inc({ model, reason: 'other' }, n)),
        }
      : undefined;
  }

  get dropped(): number {
    return this.stale + this.late + this.other;
  }

  /** Median time of the stages after the detector over the last second (0 before any frame). */
  postMs(now: number): number {
    return this.#recentPost.snapshot(now).p50 ?? 0;
  }

  /** A frame's detections went out at `sentAt`, `totalMs` after its last packet arrived. */
  processedFrame(sentAt: number, totalMs: number, timings: DetectionsMessage['timings'], classified: boolean): void {
    this.processed++;
    const postMs = timings.classifyMs + timings.trackMs;
    this.#latency.add(totalMs);
    this.#recent.add(sentAt, totalMs);
    this.#recentModel.add(sentAt, timings.inferMs + postMs);
    this.#recentPost.add(sentAt, postMs);
    const m = this.metrics;
    if (!m) return;
    const model = this.model;
    m.liveStage.observe({ model, stage: 'queue' }, timings.queueMs / 1000);
    m.liveStage.observe({ model, stage: 'decode' }, timings.decodeMs / 1000);
    m.liveStage.observe({ model, stage: 'infer' }, timings.inferMs / 1000);
    if (classified) m.liveStage.observe({ model, stage: 'classify' }, timings.classifyMs / 1000);
    m.liveStage.observe({ model, stage: 'track' }, timings.trackMs / 1000);
    m.liveStage.observe({ model, stage: 'total' }, totalMs / 1000);
  }

  /** Brings the frame counters in /metrics up to this session's own counts. */
  feedMetrics(): void {
    const f = this.#feeds;
    if (!f) return;
    f.in.to(this.framesIn);
    f.processed.to(this.processed);
    f.stale.to(this.stale);
    f.late.to(this.late);
    f.other.to(this.other);
  }

  /** The `live.stats` figures: latency over the last second, or over the whole session when `whole`. */
  stats(extras: StatsExtras, whole = false): LiveStats {
    const now = performance.now();
    const recent = this.#recent.snapshot(now);
    const model = this.#recentModel.snapshot(now);
    const budgetMs = this.budgetMs;
    const overBudget = (model.p50 ?? 0) > budgetMs;
    const warning = overBudget
      ? `The model alone takes about ${model.p50} ms per frame, more than this session's ${budgetMs} ms budget: frames are processed as fast as it allows.`
      : this.pipelineOverBudget
        ? `Frames reach the detector later than the ${budgetMs} ms budget; some are processed anyway so the session does not starve.`
        : undefined;
    return {
      framesIn: this.framesIn,
      framesProcessed: this.processed,
      framesDropped: this.dropped,
      droppedStale: this.stale,
      droppedLate: this.late,
      droppedOther: this.other,
      fps: recent.count,
      p50Ms: whole ? this.#latency.quantile(0.5) : recent.p50,
      p95Ms: whole ? this.#latency.quantile(0.95) : recent.p95,
      p99Ms: this.#latency.quantile(0.99),
      budgetMs,
      modelMs: model.p50,
      overBudget,
      ...(warning ? { warning } : {}),
      tokensCharged: toTokens(extras.chargedMilli),
      codec: this.codec,
      width: this.width,
      height: this.height,
      counts: extras.counts,
    };
  }

  /** What the session's row records (progress while live, the final figures at the end). */
  progress(extras: StatsExtras): LiveProgress {
    return {
      codec: this.codec,
      width: this.width,
      height: this.height,
      framesIn: this.framesIn,
      framesProcessed: this.processed,
      framesDropped: this.dropped,
      droppedStale: this.stale,
      droppedLate: this.late,
      p50: this.#latency.quantile(0.5),
      p95: this.#latency.quantile(0.95),
      p99: this.#latency.quantile(0.99),
      tokensChargedMilli: extras.chargedMilli,
      counts: extras.counts,
    };
  }
}
