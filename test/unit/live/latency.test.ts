import { describe, expect, it } from 'vitest';
import { LatencyHistogram, LatencyWindow, round1 } from '../../../src/live/latency.js';

/** mulberry32: a small seeded generator, so a failure can be reproduced. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Nearest-rank quantile, the definition the histogram approximates. */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

const QUANTILES = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1];

function checkAgainstExact(samples: number[]): void {
  const h = new LatencyHistogram();
  for (const s of samples) h.add(s);
  const sorted = [...samples].sort((a, b) => a - b);
  expect(h.count).toBe(samples.length);
  for (const q of QUANTILES) {
    const exact = exactQuantile(sorted, q);
    const got = h.quantile(q)!;
    const width = exact < 100 ? 0.1 : 1;
    // The upper edge of the bucket (capped at the largest sample), rounded to 0.1 ms.
    expect(got, `q=${q} exact=${exact}`).toBeGreaterThanOrEqual(exact - 0.05);
    expect(got, `q=${q} exact=${exact}`).toBeLessThanOrEqual(exact + width + 1e-9);
  }
}

describe('LatencyHistogram', () => {
  it('is null when empty', () => {
    const h = new LatencyHistogram();
    expect(h.count).toBe(0);
    expect(h.quantile(0.5)).toBeNull();
    expect(h.quantile(0.99)).toBeNull();
  });

  it('matches exact quantiles of uniform samples under 100 ms within 0.1 ms', () => {
    const r = rng(1);
    checkAgainstExact(Array.from({ length: 5000 }, () => r() * 100));
  });

  it('matches exact quantiles of skewed samples from 0 to 10 s within the bucket width', () => {
    const r = rng(2);
    // mostly 10-60 ms, a long tail up to several seconds
    const samples = Array.from({ length: 20_000 }, () => (r() < 0.9 ? 10 + r() * 50 : 100 + r() ** 3 * 9_800));
    checkAgainstExact(samples);
  });

  it('matches exact quantiles of small samples and of integer-valued samples', () => {
    checkAgainstExact([42.37]);
    checkAgainstExact([5, 1, 3]);
    checkAgainstExact([99.95, 100, 100.5, 101]);
    const r = rng(3);
    checkAgainstExact(Array.from({ length: 777 }, () => Math.floor(r() * 300)));
  });

  it('gives the known figures for a known distribution', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) h.add(i); // 1..100 ms
    expect(h.quantile(0.5)).toBe(50.1); // upper edge of the 50.0-50.1 bucket
    expect(h.quantile(0.95)).toBe(95.1);
    expect(h.quantile(0.99)).toBe(99.1);
    expect(h.quantile(1)).toBe(100); // 101 capped at the largest sample
  });

  it('never reports more than the largest sample', () => {
    const h = new LatencyHistogram();
    h.add(12.34);
    expect(h.quantile(0.5)).toBe(12.3); // min(12.4, 12.34) rounded to 0.1
    h.add(250.2);
    expect(h.quantile(1)).toBe(250.2);
  });

  it('reports huge values (past 10 s, the overflow bucket) as the largest sample', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 99; i++) h.add(20);
    h.add(3_600_000); // an hour
    expect(h.quantile(0.5)).toBe(20.1);
    expect(h.quantile(0.99)).toBe(20.1);
    expect(h.quantile(1)).toBe(3_600_000);
    const only = new LatencyHistogram();
    only.add(1e9);
    expect(only.quantile(0.5)).toBe(1e9);
    // Everything past 10 s shares one bucket, so its quantiles are the largest sample.
    const big = new LatencyHistogram();
    big.add(20_000);
    big.add(30_000);
    expect(big.quantile(0.5)).toBe(30_000);
  });

  it('puts negative samples (clock skew) in the first bucket instead of throwing', () => {
    const h = new LatencyHistogram();
    h.add(-3);
    h.add(5);
    expect(h.count).toBe(2);
    expect(h.quantile(0.5)).toBe(0.1);
  });
});

describe('LatencyWindow', () => {
  it('keeps only the samples of the last span', () => {
    const w = new LatencyWindow(1000);
    w.add(0, 50);
    w.add(400, 10);
    w.add(900, 30);
    expect(w.snapshot(1000)).toEqual({ count: 3, p50: 30, p95: 50 }); // at = now - span is still inside
    expect(w.snapshot(1001)).toEqual({ count: 2, p50: 10, p95: 30 }); // the sample at 0 is gone
    expect(w.snapshot(1400)).toEqual({ count: 2, p50: 10, p95: 30 });
    expect(w.snapshot(1401)).toEqual({ count: 1, p50: 30, p95: 30 });
    expect(w.snapshot(5000)).toEqual({ count: 0, p50: null, p95: null });
  });

  it('defaults to one second and rounds to 0.1 ms', () => {
    const w = new LatencyWindow();
    w.add(10_000, 12.345);
    w.add(10_500, 7.77);
    expect(w.snapshot(11_000)).toEqual({ count: 2, p50: 7.8, p95: 12.3 });
    expect(w.snapshot(11_001).count).toBe(1);
  });

  it('gives nearest-rank quantiles of what is left', () => {
    const w = new LatencyWindow(1000);
    for (let i = 1; i <= 20; i++) w.add(100 + i, i); // 1..20 ms
    expect(w.snapshot(500)).toEqual({ count: 20, p50: 10, p95: 19 });
  });

  it('is empty before any sample', () => {
    expect(new LatencyWindow(1000).snapshot(0)).toEqual({ count: 0, p50: null, p95: null });
  });
});

describe('round1', () => {
  it('rounds to one decimal', () => {
    expect(round1(1.25)).toBe(1.3);
    expect(round1(0.30000000000000004)).toBe(0.3);
    expect(round1(99.94)).toBe(99.9);
  });
});
