/**
 * Signalling a client controls must not hold the server (hostile review, defect 1): a PATCH of 12,000 ICE
 * candidates stalled every request for 78 s, and 6,000 live.ice messages for 10 s. Real server, real werift
 * offers; no media is sent, the sessions wait for it.
 */
import dgram from 'node:dgram';
import { RTCPeerConnection, useVP8 } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLiveServer } from '../../helpers/live.js';
import { signUp, type TestServer } from '../../helpers/server.js';
import { openSocket } from '../../helpers/ws.js';

const live = useLiveServer({ clipSeconds: 1, env: { LIVE_IDLE_TIMEOUT_S: '60', LIVE_MAX_SESSIONS_PER_USER: '4', WS_MESSAGES_PER_S: '10000' } });
let s: TestServer;
let silent: dgram.Socket;
beforeAll(async () => {
  ({ server: s } = live());
  silent = dgram.createSocket('udp4');
  silent.on('message', () => undefined);
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  silentPort = silent.address().port;
});
afterAll(() => {
  silent?.close();
});

async function offer(extra: (sdp: string) => string = (x) => x): Promise<string> {
  const pc = new RTCPeerConnection({ iceServers: [], codecs: { video: [useVP8()] } });
  pc.addTransceiver('video', { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = extra(pc.localDescription!.sdp);
  await pc.close();
  return sdp;
}

async function whip(token: string, sdp?: string): Promise<Response> {
  return fetch(`${s.url}/api/v1/whip?model=blazeface&record=false`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' },
    body: sdp ?? (await offer()),
  });
}

// The server's peer sends connectivity checks to the candidates it is given: they all point at a UDP socket of this
// test on loopback that takes the checks and never answers, so nothing leaves the machine and ICE neither connects
// nor fails (a closed port can make it fail at once, which would end the session mid-test).
let silentPort = 0;
const candidate = (i: number): string => `a=candidate:${i} 1 udp ${2122260223 - i} 127.0.0.1 ${silentPort} typ host`;

async function patch(token: string, location: string, n: number, from = 0): Promise<Response> {
  const body = ['a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=mid:0', ...Array.from({ length: n }, (_, i) => candidate(from + i)), ''].join('\r\n');
  return fetch(s.url + location, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/trickle-ice-sdpfrag' }, body });
}

async function errorOf(r: Response): Promise<{ status: number; code: string; message: string }> {
  const b = (await r.json()) as { error: { code: string; message: string } };
  return { status: r.status, ...b.error };
}

describe('WHIP PATCH', () => {
  it('refuses 12,000 candidates in one request with 400, adding none; a normal trickle still works', async () => {
    const u = await signUp(s);
    const started = await whip(u.token);
    expect(started.status).toBe(201);
    const location = started.headers.get('location')!;
    expect(await errorOf(await patch(u.token, location, 12_000))).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', message: expect.stringMatching(/at most 32 candidates/) as unknown });
    expect((await patch(u.token, location, 5)).status).toBe(204);
    expect((await s.call('DELETE', location, { token: u.token })).status).toBe(200);
  });

  it('caps the candidates of one session at 64, the offer’s included', async () => {
    const u = await signUp(s);
    // No candidates in the offer, and no end-of-candidates either: ICE waits for trickled ones (with it, and nothing
    // to try, the peer fails at once and the session ends).
    const started = await whip(u.token, await offer((sdp) => sdp.replace(/^a=(?:candidate:.*|end-of-candidates)\r\n/gm, '')));
    const location = started.headers.get('location')!;
    expect((await patch(u.token, location, 32, 0)).status).toBe(204);
    expect((await patch(u.token, location, 32, 32)).status).toBe(204);
    expect(await errorOf(await patch(u.token, location, 1, 64))).toMatchObject({ status: 400, message: expect.stringMatching(/at most 64 ICE candidates/) as unknown });
    await s.call('DELETE', location, { token: u.token });
  });

  it('rate-limits trickle requests per session: 429 with Retry-After past 20 in 10 s', async () => {
    const u = await signUp(s);
    const started = await whip(u.token);
    const location = started.headers.get('location')!;
    const codes: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 25; i++) {
      const r = await patch(u.token, location, 1, i);
      codes.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
      await r.arrayBuffer();
    }
    expect(codes.slice(0, 20).every((c) => c === 204)).toBe(true);
    expect(codes.slice(20)).toEqual([429, 429, 429, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    await s.call('DELETE', location, { token: u.token });
  });

  it('refuses offers with more than 8 media sections or 64 candidates before negotiating', async () => {
    const u = await signUp(s);
    const manySections = await offer((sdp) => sdp + Array.from({ length: 9 }, (_, i) => `m=application ${9 + i} UDP/DTLS/SCTP webrtc-datachannel\r\n`).join(''));
    expect(await errorOf(await whip(u.token, manySections))).toMatchObject({ status: 400, message: expect.stringMatching(/more than 8 media sections/) as unknown });
    const manyCandidates = await offer((sdp) => sdp + Array.from({ length: 65 }, (_, i) => candidate(i) + '\r\n').join(''));
    expect(await errorOf(await whip(u.token, manyCandidates))).toMatchObject({ status: 400, message: expect.stringMatching(/more than 64 ICE candidates/) as unknown });
    const rows = await s.app.deps.db.selectFrom('live_sessions').select('id').where('user_id', '=', u.user.id).execute();
    expect(rows).toEqual([]);
  });
});

describe('live.ice on the WebSocket', () => {
  it('takes the bare candidate string the README shows, and limits a flood per session', async () => {
    const u = await signUp(s);
    const ws = await openSocket(s.url, u.token);
    ws.send({ type: 'live.offer', sdp: await offer(), model: 'blazeface', record: false });
    const answer = await ws.next((m) => m['type'] === 'live.answer' || m['type'] === 'error', 30_000);
    expect(answer['type']).toBe('live.answer');
    const sessionId = answer['sessionId'] as string;
    ws.send({ type: 'live.ice', sessionId, candidate: candidate(1).slice(2) }); // "candidate:…", no sdpMLineIndex
    for (let i = 2; i < 6000; i++) ws.send({ type: 'live.ice', sessionId, candidate: { candidate: candidate(i).slice(2), sdpMLineIndex: 0 } });
    const limited = await ws.next((m) => m['type'] === 'error' && m['code'] === 'RATE_LIMITED', 30_000);
    expect(limited['message']).toMatch(/ICE trickle requests for this session/);
    // The bare string was taken: no validation error came back for it.
    expect(ws.inbox.filter((m) => m['code'] === 'VALIDATION_FAILED')).toEqual([]);
    expect((await s.call('GET', '/api/v1/models')).status).toBe(200);
    ws.send({ type: 'live.stop', sessionId });
    await ws.next((m) => m['type'] === 'live.ended', 10_000);
    ws.close();
  });
});
