/**
 * Two servers on the machine's PostgreSQL and Redis, each a real process, one live session each at most
 * (LIVE_MAX_SESSIONS=1): a full server sends a WHIP client to the other (307 to its PUBLIC_URL) and tells a
 * WebSocket client where to go; with both full the answer is 503; a server drained through the other ends its
 * session after the deadline and takes no new one; rate limits are counted by both servers together.
 */
import { randomBytes } from 'node:crypto';
import { RTCPeerConnection, useVP8 } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFile, type StreamSummary } from '../../../src/live/client/stream.js';
import { clusterEnv, clusterName, removeClusterKeys } from '../../helpers/cluster.js';
import { freePort, spawnNode, waitFor200 } from '../../helpers/process.js';
import { useProcessFixture } from '../../helpers/process-fixture.js';
import { openSocket } from '../../helpers/ws.js';
import { until } from '../../helpers/wait.js';

const QUEUE = clusterName('place');
const ADMIN = { email: 'admin@example.com', password: 'admin password 123' };

const fixture = useProcessFixture({ prefix: 'place', clipSeconds: 20 });
let s1: string;
let s2: string;

beforeAll(async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  [s1, s2] = [`http://127.0.0.1:${p1}`, `http://127.0.0.1:${p2}`];
  const shared = clusterEnv(fixture(), QUEUE, {
    LIVE_MAX_SESSIONS: '1',
    LOGIN_MAX_PER_ADDRESS: '6',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    PRELOAD_MODELS: 'false',
    HOST: '127.0.0.1',
  });
  for (const [node, port, url] of [['one', p1, s1], ['two', p2, s2]] as const) {
    const proc = fixture().track(spawnNode('src/main.ts', [], { ...shared, NODE_ID: node, PORT: String(port), PUBLIC_URL: url }));
    await waitFor200(`${url}/api/v1/health`, 90_000, proc);
  }
  // Each sees the other (heartbeats every 2 s).
  await until('both servers in the cluster', 10_000, async () => {
    const h = (await (await fetch(`${s1}/api/v1/health`)).json()) as { cluster?: { nodes: unknown[] } };
    return h.cluster?.nodes.length === 2 ? true : undefined;
  });
}, 180_000);

afterAll(async () => {
  await removeClusterKeys(QUEUE);
});

const json = { 'content-type': 'application/json' };

async function signIn(server: string, body: { email: string; password: string }, address = '198.51.100.1'): Promise<Response> {
  return fetch(`${server}/api/v1/auth/login`, { method: 'POST', headers: { ...json, 'x-forwarded-for': address }, body: JSON.stringify(body) });
}

async function signUp(): Promise<string> {
  const body = { email: `p-${randomBytes(4).toString('hex')}@example.com`, password: 'correct horse battery' };
  const address = `198.51.100.${10 + Math.floor(Math.random() * 200)}`;
  expect((await fetch(`${s1}/api/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify(body) })).status).toBe(201);
  const r = await signIn(s1, body, address);
  expect(r.status, await r.clone().text()).toBe(200);
  return ((await r.json()) as { token: string }).token;
}

async function sessionOf(token: string): Promise<{ id: string; node: string | null; state: string; endReason?: string }> {
  const { db } = fixture().database;
  const me = (await (await fetch(`${s1}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })).json()) as { user: { id: string } };
  return until('a session of the user', 90_000, async () => {
    const row = await db.selectFrom('live_sessions').select(['id', 'node_id', 'state', 'end_reason', 'frames_processed']).where('user_id', '=', me.user.id).orderBy('started_at', 'desc').executeTakeFirst();
    return row && (row.frames_processed > 0 || row.state === 'ended') ? { id: row.id, node: row.node_id, state: row.state, ...(row.end_reason ? { endReason: row.end_reason } : {}) } : undefined;
  });
}

function stream(server: string, token: string, durationS: number): Promise<StreamSummary | Error> {
  return streamFile({ server, token, file: fixture().clip, codec: 'vp8', fps: 15, model: 'blazeface', record: false, whip: true, durationS }).catch((err: unknown) => {
    console.log(`stream to ${server} failed: ${String(err)}`);
    return err instanceof Error ? err : new Error(String(err));
  });
}

async function offerSdp(): Promise<string> {
  const pc = new RTCPeerConnection({ codecs: { video: [useVP8()] } });
  pc.addTransceiver('video', { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription!.sdp;
  await pc.close();
  return sdp;
}

describe('two servers of one session each', () => {
  it('a full server sends new sessions to the other; with both full, 503; a drained server ends its session at the deadline', async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const streamA = stream(s1, a, 30);
    expect((await sessionOf(a)).node).toBe('one');

    // s1 is full: a WHIP POST there is redirected to s2 (fetch follows the 307 with the same body).
    const redirect = await fetch(`${s1}/api/v1/whip?model=blazeface`, {
      method: 'POST',
      headers: { authorization: `Bearer ${b}`, 'content-type': 'application/sdp' },
      body: await offerSdp(),
      redirect: 'manual',
    });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('location')).toBe(`${s2}/api/v1/whip?model=blazeface`);
    const streamB = stream(s1, b, 30); // the client follows it, with its token
    expect((await sessionOf(b)).node).toBe('two');

    // Both full (once the heartbeats say so: each server's view is up to 2 s old): 503 with Retry-After.
    await until('s2 full in the cluster view', 10_000, async () => {
      const h = (await (await fetch(`${s1}/api/v1/health`)).json()) as { cluster: { nodes: { id: string; liveSessions: number }[] } };
      return h.cluster.nodes.find((n) => n.id === 'two')?.liveSessions === 1 ? true : undefined;
    });
    const full = await fetch(`${s1}/api/v1/whip`, { method: 'POST', headers: { authorization: `Bearer ${c}`, 'content-type': 'application/sdp' }, body: await offerSdp(), redirect: 'manual' });
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBeTruthy();

    // Drain s2 through s1: its session ends as stopped after the 3 s deadline; s2 reads as draining.
    const login = await signIn(s1, ADMIN, '198.51.100.250');
    const admin = ((await login.json()) as { token: string }).token;
    const drained = await fetch(`${s1}/api/v1/admin/nodes/two/drain`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, ...json }, body: JSON.stringify({ deadlineS: 3 }) });
    expect(drained.status, await drained.clone().text()).toBe(202);
    expect(await drained.json()).toEqual({ node: 'two', liveSessions: 1, deadlineS: 3 });
    const health = await fetch(`${s2}/api/v1/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { status: string }).status).toBe('draining');
    const ended = await until('the drained session ended', 20_000, async () => {
      const sb = await sessionOf(b);
      return sb.state === 'ended' ? sb : undefined;
    });
    expect(ended.endReason).toBe('stopped');
    await streamB;

    // s2 takes nothing new now; s1 is still full: WebSocket offers to s2 get UNAVAILABLE, and no url to go to.
    const ws = await openSocket(s2, c);
    ws.send({ type: 'live.offer', sdp: await offerSdp() });
    const refused = await ws.next((m) => m['type'] === 'error');
    expect(refused).toMatchObject({ code: 'UNAVAILABLE' });
    expect(refused['url']).toBeUndefined();
    ws.close();

    // With s1 free again (A stops), a WebSocket offer on the draining s2 is told to go to s1.
    await fetch(`${s1}/api/v1/whip/${(await sessionOf(a)).id}`, { method: 'DELETE', headers: { authorization: `Bearer ${a}` } });
    await streamA;
    await until('s1 free in the cluster view', 10_000, async () => {
      const h = (await (await fetch(`${s2}/api/v1/health`)).json()) as { cluster: { nodes: { id: string; liveSessions: number }[] } };
      return h.cluster.nodes.find((n) => n.id === 'one')?.liveSessions === 0 ? true : undefined;
    });
    const ws2 = await openSocket(s2, c);
    ws2.send({ type: 'live.offer', sdp: await offerSdp() });
    expect(await ws2.next((m) => m['type'] === 'error')).toMatchObject({ code: 'UNAVAILABLE', url: s1 });
    ws2.close();
  }, 180_000);

  it('sign-in attempts are counted by both servers together', async () => {
    const who = { email: 'nobody@example.com', password: 'wrong password 1' };
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await signIn(i % 2 === 0 ? s1 : s2, who, '203.0.113.9')).status);
    // LOGIN_MAX_PER_ADDRESS=6 in all: the seventh is refused, whichever server takes it.
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
  });
});
