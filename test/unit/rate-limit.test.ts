import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/accounts/rate-limit.js';

describe('RateLimiter', () => {
  it('allows `limit` hits per window, then says how long to wait', () => {
    let now = 1_000_000;
    const rl = new RateLimiter(3, 60_000, () => now);
    expect([rl.hit('a'), rl.hit('a'), rl.hit('a')]).toEqual([0, 0, 0]);
    expect(rl.hit('a')).toBe(60);
    expect(rl.hit('b')).toBe(0); // keys are independent
    now += 30_000;
    expect(rl.blockedFor('a')).toBe(30);
    now += 30_001;
    expect(rl.blockedFor('a')).toBe(0);
    expect(rl.hit('a')).toBe(0);
    rl.close();
  });

  it('reset clears a key', () => {
    const rl = new RateLimiter(1, 60_000);
    rl.hit('k');
    expect(rl.blockedFor('k')).toBeGreaterThan(0);
    rl.reset('k');
    expect(rl.blockedFor('k')).toBe(0);
    rl.close();
  });
});
