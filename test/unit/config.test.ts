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
    expect(c.tokens).toEqual({ initialMilli: 10_000, priceImageMilli: 750, priceVideoFrameMilli: 500, priceLiveFrameMilli: 500, priceCropMilli: 0 });
    expect(c.sessionTtlDays).toBe(30);
    expect(c.registration).toEqual({ mode: 'open', perAddress: 10, windowMs: 3_600_000 });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('SIGNUP_TOKENS, with INITIAL_TOKENS read only when it is unset', () => {
    expect(loadConfig({ SIGNUP_TOKENS: '3' }).tokens.initialMilli).toBe(3000);
    expect(loadConfig({ INITIAL_TOKENS: '4' }).tokens.initialMilli).toBe(4000);
    expect(loadConfig({ SIGNUP_TOKENS: '3', INITIAL_TOKENS: '4' }).tokens.initialMilli).toBe(3000);
    expect(loadConfig({ SIGNUP_TOKENS: '', INITIAL_TOKENS: '4' }).tokens.initialMilli).toBe(4000);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ PRICE_IMAGE: '0.0001' }, /PRICE_IMAGE/],
    [{ PRICE_LIVE_FRAME: '0' }, /PRICE_LIVE_FRAME/],
    [{ INITIAL_TOKENS: '-3' }, /INITIAL_TOKENS/],
    [{ SIGNUP_TOKENS: 'lots' }, /SIGNUP_TOKENS/],
    [{ REGISTRATION: 'by-letter' }, /REGISTRATION must be one of open, closed, invite/],
    [{ SIGNUP_MAX_PER_ADDRESS: '0' }, /SIGNUP_MAX_PER_ADDRESS/],
    [{ DATABASE_URL: 'mysql://x@y/z' }, /DATABASE_URL/],
    [{ REDIS_URL: 'not a url' }, /REDIS_URL/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ COOKIE_SECURE: 'maybe' }, /COOKIE_SECURE/],
    [{ ADMIN_EMAIL: 'a@b.co' }, /ADMIN_PASSWORD/],
    [{ LIVE_BUDGET_MS: '4' }, /LIVE_BUDGET_MS/],
    [{ LIVE_BUDGET_MS: '10001' }, /LIVE_BUDGET_MS/],
    [{ LIVE_BUDGET_MS: '12.5' }, /LIVE_BUDGET_MS/],
    [{ LIVE_IDLE_TIMEOUT_S: '0' }, /LIVE_IDLE_TIMEOUT_S/],
    [{ LIVE_MAX_SESSIONS: '0' }, /LIVE_MAX_SESSIONS/],
    [{ LIVE_MAX_SESSIONS_PER_USER: 'two' }, /LIVE_MAX_SESSIONS_PER_USER/],
    [{ LIVE_RECORD: 'sometimes' }, /LIVE_RECORD/],
    [{ LIVE_BATCH: 'always' }, /LIVE_BATCH must be one of auto, on, off/],
    [{ LIVE_BATCH_MAX_SIZE: '0' }, /LIVE_BATCH_MAX_SIZE/],
    [{ LIVE_BATCH_MAX_SIZE: '65' }, /LIVE_BATCH_MAX_SIZE/],
    [{ LIVE_BATCH_MAX_WAIT_MS: '1001' }, /LIVE_BATCH_MAX_WAIT_MS/],
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

describe('config: live streaming', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({}).live).toEqual({
      budgetMs: 100,
      idleTimeoutS: 10,
      maxSessions: 8,
      maxSessionsPerUser: 2,
      maxSessionsTotal: 0,
      record: true,
      iceServers: [],
      announcedAddress: undefined,
      portRange: undefined,
      batch: { mode: 'auto', maxSize: 8, maxWaitMs: 4 },
    });
  });

  it('reads the batching settings', () => {
    expect(loadConfig({ LIVE_BATCH: 'ON', LIVE_BATCH_MAX_SIZE: '16', LIVE_BATCH_MAX_WAIT_MS: '0' }).live.batch).toEqual({ mode: 'on', maxSize: 16, maxWaitMs: 0 });
    expect(loadConfig({ LIVE_BATCH: 'off' }).live.batch.mode).toBe('off');
  });

  it('reads the numbers and LIVE_RECORD', () => {
    const { live } = loadConfig({
      LIVE_BUDGET_MS: '250',
      LIVE_IDLE_TIMEOUT_S: '30',
      LIVE_MAX_SESSIONS: '40',
      LIVE_MAX_SESSIONS_PER_USER: '5',
      LIVE_RECORD: 'false',
    });
    expect(live).toMatchObject({ budgetMs: 250, idleTimeoutS: 30, maxSessions: 40, maxSessionsPerUser: 5, record: false });
  });

  it('parses LIVE_ICE_SERVERS: STUN needs no credentials', () => {
    expect(loadConfig({ LIVE_ICE_SERVERS: 'stun:stun.l.google.com:19302' }).live.iceServers).toEqual([{ urls: 'stun:stun.l.google.com:19302' }]);
    expect(loadConfig({ LIVE_ICE_SERVERS: ' stun:a.example.com:3478 , stuns:b.example.com:5349 ,' }).live.iceServers).toEqual([
      { urls: 'stun:a.example.com:3478' },
      { urls: 'stuns:b.example.com:5349' },
    ]);
  });

  it('gives TURN servers the LIVE_TURN_USERNAME and LIVE_TURN_CREDENTIAL, and STUN servers neither', () => {
    const { iceServers } = loadConfig({
      LIVE_ICE_SERVERS: 'stun:turn.example.com:3478,turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349',
      LIVE_TURN_USERNAME: 'lookout',
      LIVE_TURN_CREDENTIAL: 's3cret',
    }).live;
    expect(iceServers).toEqual([
      { urls: 'stun:turn.example.com:3478' },
      { urls: 'turn:turn.example.com:3478?transport=udp', username: 'lookout', credential: 's3cret' },
      { urls: 'turns:turn.example.com:5349', username: 'lookout', credential: 's3cret' },
    ]);
  });

  it('refuses a TURN server without both credentials, without echoing the credential', () => {
    for (const env of [
      { LIVE_ICE_SERVERS: 'turn:turn.example.com:3478' },
      { LIVE_ICE_SERVERS: 'turn:turn.example.com:3478', LIVE_TURN_USERNAME: 'lookout' },
      { LIVE_ICE_SERVERS: 'turns:turn.example.com:5349', LIVE_TURN_CREDENTIAL: 's3cret' },
    ]) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(/LIVE_TURN_USERNAME and LIVE_TURN_CREDENTIAL/);
      try {
        loadConfig(env);
      } catch (err) {
        expect((err as Error).message).not.toContain('s3cret');
      }
    }
  });

  it.each([['http://stun.example.com'], ['stun.example.com:3478'], ['stun:'], ['stun:a b'], ['stun:ok.example.com,udp://x']])(
    'refuses the ICE server list %s',
    (LIVE_ICE_SERVERS) => {
      expect(() => loadConfig({ LIVE_ICE_SERVERS })).toThrow(ConfigError);
      expect(() => loadConfig({ LIVE_ICE_SERVERS })).toThrow(/LIVE_ICE_SERVERS/);
    },
  );

  it('parses LIVE_PORT_RANGE', () => {
    expect(loadConfig({ LIVE_PORT_RANGE: '40000-40100' }).live.portRange).toEqual([40000, 40100]);
    expect(loadConfig({ LIVE_PORT_RANGE: ' 1024-65535 ' }).live.portRange).toEqual([1024, 65535]);
  });

  it.each([['40000'], ['40100-40000'], ['40000-40000'], ['80-90'], ['1023-2000'], ['40000-70000'], ['40000:40100'], ['40000 - 40100'], ['a-b']])(
    'refuses LIVE_PORT_RANGE=%s',
    (LIVE_PORT_RANGE) => {
      expect(() => loadConfig({ LIVE_PORT_RANGE })).toThrow(ConfigError);
      expect(() => loadConfig({ LIVE_PORT_RANGE })).toThrow(/LIVE_PORT_RANGE/);
    },
  );

  it('parses LIVE_ANNOUNCED_ADDRESS as an IPv4 address', () => {
    expect(loadConfig({ LIVE_ANNOUNCED_ADDRESS: '203.0.113.7' }).live.announcedAddress).toBe('203.0.113.7');
    expect(loadConfig({ LIVE_ANNOUNCED_ADDRESS: ' 198.51.100.255 ' }).live.announcedAddress).toBe('198.51.100.255');
  });

  it.each([['203.0.113'], ['203.0.113.7.1'], ['256.0.0.1'], ['203.0.113.-1'], ['lookout.example.com'], ['2001:db8::1'], ['203.0.113.7:3478']])(
    'refuses LIVE_ANNOUNCED_ADDRESS=%s',
    (LIVE_ANNOUNCED_ADDRESS) => {
      expect(() => loadConfig({ LIVE_ANNOUNCED_ADDRESS })).toThrow(ConfigError);
      expect(() => loadConfig({ LIVE_ANNOUNCED_ADDRESS })).toThrow(/LIVE_ANNOUNCED_ADDRESS/);
    },
  );
});
