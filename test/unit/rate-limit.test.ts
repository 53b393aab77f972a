import { afterEach, describe, expect, it, vi } from 'vitest';
import { RateLimiter } from '../../src/accounts/rate-limit.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('RateLimiter', () => {
  it('allows `limit` hits per window, then says how long to wait', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const rl = new RateLimiter(3, 60_000);
    expect([await rl.hit('a'), await rl.hit('a'), await rl.hit('a')]).toEqual([0, 0, 0]);
    expect(await rl.hit('a')).toBe(60);
    expect(await rl.hit('b')).toBe(0); // keys are independent
    vi.advanceTimersByTime(30_000);
    expect(await rl.blockedFor('a')).toBe(30);
    vi.advanceTimersByTime(30_001);
    expect(await rl.blockedFor('a')).toBe(0);
    expect(await rl.hit('a')).toBe(0);
    rl.close();
  });

  it('reset clears a key', async () => {
    const rl = new RateLimiter(1, 60_000);
    await rl.hit('k');
    expect(await rl.blockedFor('k')).toBeGreaterThan(0);
    await rl.reset('k');
    expect(await rl.blockedFor('k')).toBe(0);
    rl.close();
  });
});
