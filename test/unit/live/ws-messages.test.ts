import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { parseClientMessage } from '../../../src/ws/messages.js';

function rejects(text: string): string {
  try {
    parseClientMessage(text);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('VALIDATION_FAILED');
    return (err as AppError).message;
  }
  throw new Error(`expected ${text} to be refused`);
}

const SESSION = '3f2b8c1e-5a6d-4e7f-9a0b-1c2d3e4f5a6b';

describe('parseClientMessage', () => {
  it('subscribe / unsubscribe to jobs and to a live session', () => {
    expect(parseClientMessage('{"type":"subscribe","topic":"jobs"}')).toEqual({ type: 'subscribe', topic: 'jobs' });
    expect(parseClientMessage(JSON.stringify({ type: 'subscribe', topic: `live:${SESSION}` }))).toEqual({ type: 'subscribe', topic: `live:${SESSION}` });
    expect(parseClientMessage('{"type":"unsubscribe","topic":"jobs"}')).toEqual({ type: 'unsubscribe', topic: 'jobs' });
    expect(parseClientMessage(JSON.stringify({ type: 'unsubscribe', topic: `live:${SESSION}` }))).toEqual({ type: 'unsubscribe', topic: `live:${SESSION}` });
  });

  it('live.offer with and without options: the pipeline parsed, budget and record passed through for the manager to check', () => {
    expect(parseClientMessage(JSON.stringify({ type: 'live.offer', sdp: 'v=0\r\n' }))).toEqual({
      type: 'live.offer',
      sdp: 'v=0\r\n',
      pipeline: {},
      budgetMs: undefined,
      record: undefined,
    });
    const zones = [{ name: 'door', polygon: [[0, 0], [1, 0], [1, 1]] }];
    expect(parseClientMessage(JSON.stringify({ type: 'live.offer', sdp: 'v=0\r\n', model: 'blazeface', classifier: 'emotion', zones, budgetMs: 80, record: false, extra: 1 }))).toEqual({
      type: 'live.offer',
      sdp: 'v=0\r\n',
      pipeline: { model: 'blazeface', classifier: 'emotion', zones: [{ ...zones[0], mode: 'include' }] },
      budgetMs: 80,
      record: false,
    });
    expect(() => parseClientMessage(JSON.stringify({ type: 'live.offer', sdp: 'v=0\r\n', minScore: 3 }))).toThrow(/^minScore/);
    expect(parseClientMessage(JSON.stringify({ type: 'live.configure', sessionId: 's1', classes: ['cat'], minScore: 0.5 }))).toEqual({
      type: 'live.configure',
      sessionId: 's1',
      changes: { classes: ['cat'], minScore: 0.5 },
    });
  });

  it('live.ice with a candidate object or string', () => {
    const candidate = { candidate: 'candidate:1 1 udp 2122260223 192.168.1.23 54400 typ host', sdpMid: '0', sdpMLineIndex: 0 };
    expect(parseClientMessage(JSON.stringify({ type: 'live.ice', sessionId: SESSION, candidate }))).toEqual({ type: 'live.ice', sessionId: SESSION, candidate });
    expect(parseClientMessage(JSON.stringify({ type: 'live.ice', sessionId: SESSION, candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host' }))).toEqual({
      type: 'live.ice',
      sessionId: SESSION,
      candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host',
    });
  });

  it('live.stop', () => {
    expect(parseClientMessage(JSON.stringify({ type: 'live.stop', sessionId: SESSION }))).toEqual({ type: 'live.stop', sessionId: SESSION });
  });

  it('refuses text that is not JSON, and JSON that is not an object', () => {
    expect(rejects('not json')).toBe('Messages must be JSON objects.');
    expect(rejects('{"type":"live.stop",')).toBe('Messages must be JSON objects.');
    expect(rejects('')).toBe('Messages must be JSON objects.');
    expect(rejects('[{"type":"live.stop","sessionId":"x"}]')).toBe('Messages must be JSON objects.');
    expect(rejects('null')).toBe('Messages must be JSON objects.');
    expect(rejects('"subscribe"')).toBe('Messages must be JSON objects.');
    expect(rejects('42')).toBe('Messages must be JSON objects.');
  });

  it('refuses an unknown or missing type, naming the known ones', () => {
    const unknown = rejects('{"type":"live.start"}');
    expect(unknown).toContain('"live.start"');
    expect(unknown).toContain('subscribe, unsubscribe, live.offer, live.ice, live.stop');
    expect(rejects('{"topic":"jobs"}')).toMatch(/^Unknown message type/);
    expect(rejects('{"type":7}')).toMatch(/^Unknown message type 7;/);
    expect(rejects('{"type":"SUBSCRIBE","topic":"jobs"}')).toMatch(/^Unknown message type "SUBSCRIBE"/);
  });

  it('refuses missing or empty required fields, naming the field', () => {
    expect(rejects('{"type":"subscribe"}')).toBe('subscribe needs "topic" as a non-empty string.');
    expect(rejects('{"type":"unsubscribe","topic":""}')).toBe('unsubscribe needs "topic" as a non-empty string.');
    expect(rejects('{"type":"live.offer"}')).toBe('live.offer needs "sdp" as a non-empty string.');
    expect(rejects('{"type":"live.offer","sdp":{"type":"offer"}}')).toBe('live.offer needs "sdp" as a non-empty string.');
    expect(rejects('{"type":"live.ice","sessionId":"abc"}')).toBe('live.ice needs "candidate".');
    expect(rejects('{"type":"live.ice","candidate":"candidate:1"}')).toBe('live.ice needs "sessionId" as a non-empty string.');
    expect(rejects('{"type":"live.stop"}')).toBe('live.stop needs "sessionId" as a non-empty string.');
    expect(rejects('{"type":"live.stop","sessionId":12}')).toBe('live.stop needs "sessionId" as a non-empty string.');
  });

  it.each([['job'], ['jobs:all'], ['live:'], ['live:a b'], ['live:../x'], [`live:${'a'.repeat(65)}`], ['user:me'], ['LIVE:abc']])(
    'refuses the topic %s',
    (topic) => {
      expect(rejects(JSON.stringify({ type: 'subscribe', topic }))).toBe('topic must be "jobs" or "live:<sessionId>".');
    },
  );

  it('accepts a live topic of 64 id characters', () => {
    const topic = `live:${'a'.repeat(64)}`;
    expect(parseClientMessage(JSON.stringify({ type: 'subscribe', topic }))).toEqual({ type: 'subscribe', topic });
  });
});
