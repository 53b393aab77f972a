import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({}, '/srv/lookout');
    expect(c.port).toBe(8080);
    expect(c.host).toBe('0.0.0.0');
    expect(c.dataDir).toBe('/srv/lookout/data');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.redisUrl).toBeUndefined();
    expect(c.tokens).toEqual({ initialMilli: 10_000, priceImageMilli: 750, priceVideoFrameMilli: 500, priceLiveFrameMilli: 500 });
    expect(c.sessionTtlDays).toBe(30);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ PRICE_IMAGE: '0.0001' }, /PRICE_IMAGE/],
    [{ PRICE_LIVE_FRAME: '0' }, /PRICE_LIVE_FRAME/],
    [{ INITIAL_TOKENS: '-3' }, /INITIAL_TOKENS/],
    [{ DATABASE_URL: 'mysql://x@y/z' }, /DATABASE_URL/],
    [{ REDIS_URL: 'not a url' }, /REDIS_URL/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ COOKIE_SECURE: 'maybe' }, /COOKIE_SECURE/],
    [{ ADMIN_EMAIL: 'a@b.co' }, /ADMIN_PASSWORD/],
  ])('names the bad variable: %o', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(name);
  });

  it('never echoes a bad URL, which may hold a password', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:s3cret@' })).toThrow(/DATABASE_URL/);
    try {
      loadConfig({ DATABASE_URL: 'http://u:s3cret@host/db' });
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cret');
    }
  });
});
