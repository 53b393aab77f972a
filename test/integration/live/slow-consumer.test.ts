/**
 * A WebSocket client that never reads, watching a live session: the server's buffer for it stops at the
 * backpressure cap (messages to it are dropped beyond it), while another client watching the same session
 * keeps receiving every frame's detections. Real stream, real server; the buffered bytes are uWS's own count
 * (getBufferedAmount), exported as lookout_ws_buffered_bytes.
 */
import type net from 'node:net';
import WebSocket from 'ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { streamFile } from '../../../src/live/client/stream.js';
import { MAX_BACKPRESSURE_BYTES } from '../../../src/ws/protocol.js';
import { useLiveServer } from '../../helpers/live.js';
import { signUp, type TestServer } from '../../helpers/server.js';

// The slow client floods on purpose: lift the per-socket message limit so that it is the backpressure cap at work.
const live = useLiveServer({ clipSeconds: 13, env: { INITIAL_TOKENS: '1000', WS_MESSAGES_PER_S: '50000' } });
let s: TestServer;
let clip: string;
beforeAll(() => {
  ({ server: s, clip } = live());
});

async function gauge(series: string): Promise<number> {
  const text = await (await s.call('GET', '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.split(' ').pop()) : 0;
}

function socket(token: string): Promise<WebSocket> {
  const ws = new WebSocket(s.url.replace('http', 'ws') + '/api/v1/ws', { headers: { authorization: `Bearer ${token}` } });
  return new Promise((resolve, reject) => ws.once('open', () => resolve(ws)).once('error', reject));
}

describe('a WebSocket client that never reads', () => {
  it('costs the server at most the backpressure cap, and other clients keep receiving', async () => {
    const u = await signUp(s);
    let sessionId: string | undefined;
    const streaming = streamFile({
      server: s.url, token: u.token, file: clip, codec: 'vp8', fps: 30, model: 'blazeface', record: false, durationS: 12,
      onMessage: (m) => {
        if ('sessionId' in m && typeof m.sessionId === 'string') sessionId ??= m.sessionId;
      },
    });
    await expect.poll(() => sessionId, { timeout: 60_000 }).toBeDefined();
    const topic = `live:${sessionId!}`;

    // The slow client: subscribed, then it stops reading (its TCP socket is paused) and asks for the session's
    // stats 20,000 times (each answer about half a KiB): far more than the kernel's socket buffers hold, and within
    // the message limits this file sets (50,000 a second, 100,000 unanswered).
    const slow = await socket(u.token);
    slow.send(JSON.stringify({ type: 'subscribe', topic }));
    (slow as unknown as { _socket: net.Socket })._socket.pause();
    const ask = JSON.stringify({ type: 'subscribe', topic });
    for (let i = 0; i < 20_000; i++) slow.send(ask);

    // The healthy client counts detections.
    const fast = await socket(u.token);
    const frames: number[] = [];
    fast.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString()) as { type: string; frame?: number };
      if (m.type === 'detections') frames.push(m.frame!);
    });
    fast.send(JSON.stringify({ type: 'subscribe', topic }));

    // Sample the server's buffer for 6 s while detections go on streaming to both.
    const samples: number[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 6000) {
      samples.push(await gauge('lookout_ws_buffered_bytes{of="max_socket"}'));
      await new Promise((r) => setTimeout(r, 250));
    }
    const peak = Math.max(...samples);
    // Pressure built up for the slow client (the kernel's buffers are full), and stopped at the cap.
    expect(peak).toBeGreaterThan(MAX_BACKPRESSURE_BYTES / 2);
    expect(peak).toBeLessThanOrEqual(MAX_BACKPRESSURE_BYTES + 64 * 1024);
    expect(await gauge('lookout_ws_messages_dropped_total')).toBeGreaterThan(0);

    // The healthy client got detections meanwhile (how many depends on the machine's speed, so it is not counted
    // against a rate here)...
    expect(frames.length).toBeGreaterThan(0);
    const sum = await streaming;
    expect(sum.errors).toEqual([]);
    expect(sum.ended?.reason).toBe('stopped');
    // ...every processed frame from its subscription on, in order, none missing.
    const first = frames[0]!;
    const expected = sum.detections.filter((d) => d.frame >= first).map((d) => d.frame);
    expect(frames.slice(0, expected.length)).toEqual(expected);

    slow.terminate();
    fast.close();
    await expect.poll(() => gauge('lookout_ws_buffered_bytes{of="total"}'), { timeout: 10_000 }).toBe(0);
  }, 90_000);
});
