/** The retry schedule of webhook deliveries: exponential with jitter, at least 6 attempts over at least an hour. */
import { describe, expect, it } from 'vitest';
import { ATTEMPTS, retryDelayMs } from '../../src/events/delivery-queue.js';

describe('webhook retry schedule', () => {
  it('with the default 5 s base, even the shortest jitter spreads 7 attempts over more than an hour', () => {
    expect(ATTEMPTS).toBeGreaterThanOrEqual(6);
    const waits = (random: () => number): number[] => Array.from({ length: ATTEMPTS - 1 }, (_, i) => retryDelayMs(i + 1, 5000, random));
    const shortest = waits(() => 0);
    const longest = waits(() => 0.999999);
    expect(shortest.reduce((a, b) => a + b, 0)).toBeGreaterThan(3600_000);
    expect(shortest).toEqual([3750, 15000, 60000, 240000, 960000, 3840000]);
    for (let i = 1; i < shortest.length; i++) expect(shortest[i]!).toBeGreaterThan(longest[i - 1]!); // grows despite jitter
  });

  it('jitter spreads retries of the same attempt across ±25%', () => {
    const seen = new Set(Array.from({ length: 200 }, () => retryDelayMs(3, 1000)));
    expect(seen.size).toBeGreaterThan(50);
    for (const d of seen) expect(d >= 12_000 && d <= 20_000).toBe(true);
  });
});
