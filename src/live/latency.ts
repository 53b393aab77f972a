/**
 * Latency percentiles without keeping every sample: a fixed histogram, 0.1 ms wide up to 100 ms, 1 ms wide
 * up to 10 s, and one overflow bucket. Whole-session p50/p95/p99 come from it; `LatencyWindow` keeps the
 * last second's samples for the per-second stats.
 */
const FINE_BUCKETS = 1000; // 0..100 ms by 0.1
const COARSE_BUCKETS = 9900; // 100..10000 ms by 1

function bucketOf(ms: number): number {
  if (ms < 100) return Math.max(0, Math.floor(ms * 10));
  if (ms < 10_000) return FINE_BUCKETS + Math.floor(ms - 100);
  return FINE_BUCKETS + COARSE_BUCKETS;
}

function upperEdge(bucket: number): number {
  if (bucket < FINE_BUCKETS) return (bucket + 1) / 10;
  if (bucket < FINE_BUCKETS + COARSE_BUCKETS) return 100 + (bucket - FINE_BUCKETS) + 1;
  return Infinity;
}

export class LatencyHistogram {
  readonly #counts = new Uint32Array(FINE_BUCKETS + COARSE_BUCKETS + 1);
  #n = 0;
  #max = 0;

  add(ms: number): void {
    this.#counts[bucketOf(ms)]!++;
    this.#n++;
    if (ms > this.#max) this.#max = ms;
  }

  get count(): number {
    return this.#n;
  }

  /** The q-quantile (0..1), as the upper edge of its bucket, capped at the largest sample; null when empty. */
  quantile(q: number): number | null {
    if (this.#n === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.#n));
    let seen = 0;
    for (let b = 0; b < this.#counts.length; b++) {
      seen += this.#counts[b]!;
      if (seen >= rank) return round1(Math.min(upperEdge(b), this.#max));
    }
    return round1(this.#max);
  }
}

/** Samples of the last `spanMs`, for "right now" figures. */
export class LatencyWindow {
  readonly #samples: { at: number; ms: number }[] = [];
  constructor(private readonly spanMs = 1000) {}

  add(at: number, ms: number): void {
    this.#samples.push({ at, ms });
  }

  /** Drops samples older than the span and returns how many remain with their quantiles. */
  snapshot(now: number): { count: number; p50: number | null; p95: number | null } {
    while (this.#samples.length > 0 && this.#samples[0]!.at < now - this.spanMs) this.#samples.shift();
    const sorted = this.#samples.map((s) => s.ms).sort((a, b) => a - b);
    const pick = (q: number): number | null => (sorted.length === 0 ? null : round1(sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!));
    return { count: sorted.length, p50: pick(0.5), p95: pick(0.95) };
  }
}

export const round1 = (x: number): number => Math.round(x * 10) / 10;
