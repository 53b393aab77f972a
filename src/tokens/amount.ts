/**
 * Token amounts are stored exactly as integer milli-tokens. JSON carries them as numbers with at most
 * three decimals; these helpers are the only place that converts between the two.
 */
export const MILLI = 1000;
/** Largest amount accepted in one operation: one billion tokens. */
export const MAX_MILLI = 1_000_000_000 * MILLI;

/** Parses "0.75", "10" or 0.75 into milli-tokens; undefined when negative, non-finite or finer than 0.001. */
export function parseTokenAmount(value: unknown): number | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    const milli = Math.round(value * MILLI);
    if (Math.abs(value * MILLI - milli) > 1e-6 * Math.max(1, Math.abs(milli))) return undefined;
    return milli < 0 || milli > MAX_MILLI ? undefined : milli;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const m = /^(\d{1,10})(?:\.(\d{1,3}))?$/.exec(text);
  if (!m) return undefined;
  const whole = Number(m[1]);
  const frac = Number((m[2] ?? '').padEnd(3, '0'));
  const milli = whole * MILLI + frac;
  return milli > MAX_MILLI ? undefined : milli;
}

/** Milli-tokens to the JSON number the contract shows (exact for every value with ≤ 3 decimals). */
export function toTokens(milli: number): number {
  return milli / MILLI;
}
