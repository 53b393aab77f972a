import { describe, expect, it } from 'vitest';
import { parseTokenAmount, toTokens } from '../../src/tokens/amount.js';

describe('token amounts', () => {
  it('parses numbers and strings with up to 3 decimals into milli-tokens', () => {
    expect(parseTokenAmount(0.75)).toBe(750);
    expect(parseTokenAmount(10)).toBe(10_000);
    expect(parseTokenAmount('0.5')).toBe(500);
    expect(parseTokenAmount('12.345')).toBe(12_345);
    expect(parseTokenAmount(0.001)).toBe(1);
    expect(parseTokenAmount(1.1)).toBe(1100); // 1.1 * 1000 is 1100.0000000000002 in floating point
  });

  it('refuses finer than 0.001, negatives, non-finite and junk', () => {
    for (const bad of [0.0005, 1.2345, -1, '-1', Infinity, NaN, '1e3', '1.2.3', '', 'ten', null, {}, '0.0001']) {
      expect(parseTokenAmount(bad), JSON.stringify(bad) ?? 'undefined').toBeUndefined();
    }
  });

  it('round-trips exactly', () => {
    for (const milli of [0, 1, 250, 750, 999, 1000, 123_456_789]) {
      expect(parseTokenAmount(toTokens(milli))).toBe(milli);
    }
  });
});
