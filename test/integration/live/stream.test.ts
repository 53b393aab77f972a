/**
 * Real streams end to end: the repository's client encodes a generated clip of a moving face with ffmpeg,
 * sends it through a werift peer to the real server (werift peer, ffmpeg decoder, BlazeFace on CPU, real
 * PostgreSQL), and we check what comes back against what was sent.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { streamFile, type StreamSummary } from '../../../src/live/client/stream.js';
import { useLiveServer } from '../../helpers/live.js';
import { countFrames } from '../../helpers/media.js';
import { signUp, type TestServer } from '../../helpers/server.js';

const PRICE = 0.5;
const SECONDS = 11;

const live = useLiveServer({ clipSeconds: SECONDS + 1, env: { INITIAL_TOKENS: '1000' } });
let s: TestServer;
let tmp: string;
let clip: string;

beforeAll(() => {
  ({ server: s, tmp, clip } = live());
});

interface PublicSession {
  id: string;
  codec: string;
  width: number;
  height: number;
  state: string;
  endReason: string;
  framesIn: number;
  framesProcessed: number;
  framesDropped: number;
  latencyMs: { p50: number; p95: number; p99: number };
  tokensCharged: number;
  hasRecording: boolean;
}

/** Everything the contract promises about one finished stream. */
async function checkStream(sum: StreamSummary, token: string, codec: 'vp8' | 'h264'): Promise<PublicSession> {
  expect(sum.errors).toEqual([]);
  expect(sum.ended?.reason).toBe('stopped');
  const st = sum.ended!.stats;

  // Frames: what was sent arrived (loopback loses nothing), and every frame is accounted for exactly once.
  expect(sum.framesSent).toBeGreaterThan(0);
  expect(st.framesIn).toBeLessThanOrEqual(sum.framesSent);
  expect(st.framesIn).toBeGreaterThanOrEqual(sum.framesSent - 3);
  expect(st.framesIn).toBe(st.framesProcessed + st.framesDropped);
  expect(st.framesDropped).toBe(st.droppedStale + st.droppedLate + st.droppedOther);
  expect(sum.detections).toHaveLength(st.framesProcessed);
  expect(st.framesProcessed).toBeGreaterThan(0); // how many of them depends on the machine's speed

  // Detections: the contract's shape, matched to frames that were really sent, in order.
  const sentTs = new Set(sum.rtpTimestampsSent);
  let lastFrame = 0;
  let withFace = 0;
  for (const d of sum.detections) {
    expect(d.type).toBe('detections');
    expect(d.sessionId).toBe(sum.sessionId);
    expect(Number.isInteger(d.frame)).toBe(true);
    expect(d.frame).toBeGreaterThan(lastFrame);
    lastFrame = d.frame;
    expect(sentTs.has(d.rtpTimestamp)).toBe(true);
    expect([d.width, d.height]).toEqual([640, 480]);
    for (const k of ['queueMs', 'decodeMs', 'inferMs', 'totalMs'] as const) expect(d.timings[k]).toBeGreaterThanOrEqual(0);
    expect(d.timings.totalMs).toBeGreaterThanOrEqual(d.timings.inferMs);
    for (const o of d.objects) {
      // Tracking is on by default in live sessions: a tracked face carries its trackId.
      expect(Object.keys(o).filter((k) => k !== 'trackId').sort()).toEqual(['box', 'classId', 'label', 'score']);
      expect(o.label).toBe('face');
      expect(o.classId).toBe(0);
      expect(o.score).toBeGreaterThan(0);
      expect(o.score).toBeLessThanOrEqual(1);
      const [x1, y1, x2, y2] = o.box;
      expect(0 <= x1 && x1 < x2 && x2 <= 640 && 0 <= y1 && y1 < y2 && y2 <= 480).toBe(true);
    }
    if (d.objects.length > 0) withFace++;
  }
  // The clip always shows the face; BlazeFace finds it in nearly every frame.
  expect(withFace).toBeGreaterThan(sum.detections.length * 0.8);
  // The same messages went out on the data channel.
  expect(sum.dataChannelDetections).toBeGreaterThanOrEqual(st.framesProcessed * 0.9);

  // Stats about every second, and they only grow.
  expect(sum.stats.length).toBeGreaterThan(0);
  for (let i = 1; i < sum.stats.length; i++) expect(sum.stats[i]!.framesIn).toBeGreaterThanOrEqual(sum.stats[i - 1]!.framesIn);
  for (const m of sum.stats) {
    expect(m.framesIn).toBeGreaterThanOrEqual(m.framesProcessed + m.framesDropped);
    expect(typeof m.fps).toBe('number');
  }

  // The stored session agrees, and it was paid for frame by frame: processed × price, nothing for drops.
  const res = await s.call('GET', `/api/v1/live-sessions/${sum.sessionId}`, { token });
  expect(res.status).toBe(200);
  const { session } = (await res.json()) as { session: PublicSession };
  expect(session).toMatchObject({ state: 'ended', endReason: 'stopped', codec, width: 640, height: 480, framesIn: st.framesIn, framesProcessed: st.framesProcessed, framesDropped: st.framesDropped, hasRecording: true });
  expect(session.tokensCharged).toBe(st.framesProcessed * PRICE);
  expect(st.tokensCharged).toBe(st.framesProcessed * PRICE);
  expect(session.latencyMs.p50).toBeGreaterThan(0);
  expect(session.latencyMs.p99).toBeGreaterThanOrEqual(session.latencyMs.p95);
  return session;
}

async function balanceOf(token: string): Promise<number> {
  return ((await (await s.call('GET', '/api/v1/tokens', { token })).json()) as { balance: number }).balance;
}

async function download(token: string, id: string, range?: string): Promise<Response> {
  return s.call('GET', `/api/v1/live-sessions/${id}/recording`, { token, headers: range ? { range } : {} });
}

/** Downloads the recording and counts its frames: within 2% of the frames sent. */
async function checkRecording(token: string, sum: StreamSummary, type: string): Promise<void> {
  const rec = await download(token, sum.sessionId);
  expect(rec.status).toBe(200);
  expect(rec.headers.get('content-type')).toBe(type);
  const file = path.join(tmp, `${sum.sessionId}.${type === 'video/webm' ? 'webm' : 'mkv'}`);
  await writeFile(file, Buffer.from(await rec.arrayBuffer()));
  const frames = await countFrames(file);
  expect(Math.abs(frames - sum.framesSent) / sum.framesSent).toBeLessThanOrEqual(0.02);
}

describe('live streaming', () => {
  it('VP8 over the WebSocket: detections, stats, recording and tokens add up', async () => {
    const u = await signUp(s);
    const sum = await streamFile({ server: s.url, token: u.token, file: clip, codec: 'vp8', fps: 30, model: 'blazeface', record: true, durationS: SECONDS });
    expect(sum.via).toBe('ws');
    const session = await checkStream(sum, u.token, 'vp8');

    // Balance: 1000 minus exactly what was charged; the ledger shows holds and one refund, netting the same.
    expect(await balanceOf(u.token)).toBe(1000 - session.tokensCharged);
    const ledger = (await (await s.call('GET', '/api/v1/tokens/ledger?limit=200', { token: u.token })).json()) as {
      entries: { amount: number; reason: string; ref: string | null }[];
    };
    const mine = ledger.entries.filter((e) => e.ref === `live:${sum.sessionId}`);
    expect(mine.filter((e) => e.reason === 'refund')).toHaveLength(1);
    expect(mine.filter((e) => e.reason === 'reserve').length).toBeGreaterThanOrEqual(1);
    expect(Math.round(mine.reduce((a, e) => a + e.amount, 0) * 1000) / 1000).toBe(-session.tokensCharged);

    // The recording plays and holds the frames that were sent (within 2%).
    await checkRecording(u.token, sum, 'video/webm');

    // Byte ranges, and nobody else's business.
    const part = await download(u.token, sum.sessionId, 'bytes=0-99');
    expect(part.status).toBe(206);
    expect((await part.arrayBuffer()).byteLength).toBe(100);
    expect(part.headers.get('content-range')).toMatch(/^bytes 0-99\/\d+$/);
    expect((await download(u.token, sum.sessionId, 'bytes=999999999-')).status).toBe(416);
    const other = await signUp(s);
    expect((await download(other.token, sum.sessionId)).status).toBe(404);
    expect((await s.call('GET', `/api/v1/live-sessions/${sum.sessionId}`, { token: other.token })).status).toBe(404);
  }, 90_000);

  it('H.264 over WHIP: the same guarantees, recorded as Matroska', async () => {
    const u = await signUp(s);
    const sum = await streamFile({ server: s.url, token: u.token, file: clip, codec: 'h264', fps: 30, whip: true, model: 'blazeface', record: true, durationS: SECONDS });
    expect(sum.via).toBe('whip');
    const session = await checkStream(sum, u.token, 'h264');
    expect(await balanceOf(u.token)).toBe(1000 - session.tokensCharged);

    await checkRecording(u.token, sum, 'video/x-matroska');

    const list = (await (await s.call('GET', '/api/v1/live-sessions', { token: u.token })).json()) as { sessions: PublicSession[] };
    expect(list.sessions.map((x) => x.id)).toEqual([sum.sessionId]);
  }, 90_000);

  it('without recording there is no file and no download', async () => {
    const u = await signUp(s);
    const sum = await streamFile({ server: s.url, token: u.token, file: clip, codec: 'vp8', fps: 30, model: 'blazeface', record: false, durationS: 2 });
    expect(sum.ended?.reason).toBe('stopped');
    const res = await s.call('GET', `/api/v1/live-sessions/${sum.sessionId}`, { token: u.token });
    expect(((await res.json()) as { session: PublicSession }).session.hasRecording).toBe(false);
    expect((await download(u.token, sum.sessionId)).status).toBe(404);
  }, 60_000);
});
