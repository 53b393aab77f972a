/**
 * Three servers and a worker, each a real process, on the machine's PostgreSQL and Redis, behind a real HAProxy
 * (deploy/haproxy/haproxy.cfg: round-robin, no stickiness). HAProxy names the server that answered in
 * X-Served-By; each server's /metrics says what it forwarded and what it served for another.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFile, type StreamSummary } from '../../../src/live/client/stream.js';
import { clusterEnv, clusterName, removeClusterKeys } from '../../helpers/cluster.js';
import { parseMetrics } from '../../helpers/metrics.js';
import { freePort, ROOT, spawnNode, waitFor200, type Spawned } from '../../helpers/process.js';
import { useProcessFixture } from '../../helpers/process-fixture.js';
import { openSocket, type TestSocket } from '../../helpers/ws.js';
import { until } from '../../helpers/wait.js';

const QUEUE = clusterName('cluster');
const NODES = ['lookout-1', 'lookout-2', 'lookout-3'] as const;
type Node = (typeof NODES)[number];

const fixture = useProcessFixture({ prefix: 'cluster', clipSeconds: 20 });
const servers = new Map<Node, { url: string; proc: Spawned }>();
let lb: string;
let haproxy: ReturnType<typeof spawn> | undefined;

beforeAll(async () => {
  const shared = clusterEnv(fixture(), QUEUE, { LIVE_MAX_SESSIONS_PER_USER: '1', LOG_LEVEL: 'info' });
  const ports = await Promise.all(NODES.map(() => freePort()));
  await Promise.all(
    NODES.map(async (node, i) => {
      const url = `http://127.0.0.1:${ports[i]}`;
      const env = { ...shared, NODE_ID: node, PUBLIC_URL: url, PORT: String(ports[i]), HOST: '127.0.0.1', JOBS_INLINE_WORKER: 'false', PRELOAD_MODELS: 'false' };
      const proc = fixture().track(spawnNode('src/main.ts', [], env));
      servers.set(node, { url, proc });
      await waitFor200(`${url}/api/v1/health`, 90_000, proc);
    }),
  );
  fixture().track(spawnNode('src/worker-main.ts', [], { ...shared, PRELOAD_MODELS: 'false' }));
  const lbPort = await freePort();
  lb = `http://127.0.0.1:${lbPort}`;
  haproxy = spawn('haproxy', ['-db', '-f', path.join(ROOT, 'deploy/haproxy/haproxy.cfg')], {
    env: { ...process.env, LB_BIND: `127.0.0.1:${lbPort}`, ...Object.fromEntries(NODES.map((n, i) => [n.replace('lookout-', 'LOOKOUT_'), `127.0.0.1:${ports[i]}`])) },
    stdio: 'ignore',
  });
  await waitFor200(`${lb}/api/v1/health`, 30_000);
  // Every server up and in rotation: HAProxy checks each once a second.
  await until('all three servers in rotation', 20_000, async () => ((await servedBy(3)).size === 3 ? true : undefined));
}, 180_000);

afterAll(async () => {
  haproxy?.kill('SIGKILL');
  await removeClusterKeys(QUEUE);
});

/** The servers that answered `n` health checks through the balancer, in order. */
async function servedBy(n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${lb}/api/v1/health`);
    await r.body?.cancel();
    seen.add(r.headers.get('x-served-by') ?? '?');
  }
  return seen;
}

/** Sends health checks through the balancer until `node` answered one: the next request goes to another server. */
async function passOver(node: Node): Promise<void> {
  await until(`a request served by ${node}`, 10_000, async () => {
    const r = await fetch(`${lb}/api/v1/health`);
    await r.body?.cancel();
    return r.headers.get('x-served-by') === node ? true : undefined;
  });
}

async function metrics(node: Node): Promise<Map<string, number>> {
  return parseMetrics(await (await fetch(`${servers.get(node)!.url}/metrics`)).text());
}

const metric = (m: Map<string, number>, key: string): number => m.get(key) ?? 0;

async function signUp(): Promise<string> {
  const json = { 'content-type': 'application/json' };
  const email = `cluster-${randomBytes(4).toString('hex')}@example.com`;
  const password = 'correct horse battery';
  expect((await fetch(`${lb}/api/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, password }) })).status).toBe(201);
  const r = await fetch(`${lb}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password }) });
  return ((await r.json()) as { token: string }).token;
}

/** The user's live session once it has frames, and the server that runs it (from the database). */
async function liveSession(minFrames: number): Promise<{ id: string; node: Node }> {
  const { db } = fixture().database;
  return until('a live session with frames', 90_000, async () => {
    const row = await db.selectFrom('live_sessions').select(['id', 'node_id', 'frames_processed']).where('state', '=', 'live').orderBy('started_at', 'desc').executeTakeFirst();
    return row && row.frames_processed >= minFrames ? { id: row.id, node: row.node_id as Node } : undefined;
  });
}

const other = (node: Node): Node => NODES.find((n) => n !== node)!;

function stream(token: string, signal?: AbortSignal): Promise<StreamSummary | Error> {
  const o = { server: lb, token, file: fixture().clip, codec: 'vp8' as const, fps: 15, model: 'blazeface', record: true, whip: true, durationS: 18 };
  return streamFile({ ...o, ...(signal ? { signal } : {}) }).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
}

describe('three servers behind a round-robin balancer', () => {
  it('PATCH and DELETE reach the server that runs the session, a socket on another gets its events, one session per user holds', async () => {
    const token = await signUp();
    const streaming = stream(token);
    const session = await liveSession(5);
    const owner = session.node;
    const before = new Map(await Promise.all(NODES.map(async (n) => [n, await metrics(n)] as const)));

    // A WebSocket on another server watches the session.
    const watcherNode = other(owner);
    const watcher: TestSocket = await openSocket(servers.get(watcherNode)!.url, token);
    watcher.send({ type: 'subscribe', topic: `live:${session.id}` });
    expect(await watcher.next((m) => m['type'] === 'live.stats' || m['type'] === 'error', 15_000)).toMatchObject({ type: 'live.stats', sessionId: session.id });
    const firstRelayed = await watcher.next((m) => m['type'] === 'detections', 15_000);
    expect(firstRelayed['sessionId']).toBe(session.id);

    // Three trickle PATCHes through the balancer: round-robin puts at least two on other servers.
    const frag = ['a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=mid:0', 'a=candidate:1 1 udp 2122260223 127.0.0.1 9 typ host', ''].join('\r\n');
    const patchedBy: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${lb}/api/v1/whip/${session.id}`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/trickle-ice-sdpfrag' }, body: frag });
      expect(r.status).toBe(204);
      patchedBy.push(r.headers.get('x-served-by')!);
    }
    const forwardedPatches = patchedBy.filter((n) => n !== owner).length;
    expect(forwardedPatches).toBeGreaterThanOrEqual(2);

    // One session per user, whichever server is asked.
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${lb}/api/v1/whip`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
      // The limit is checked before the offer is read: 409, not 400.
      expect([r.status, r.headers.get('x-served-by')]).toEqual([409, expect.any(String)]);
    }
    const offerOnWatcher = await openSocket(servers.get(watcherNode)!.url, token);
    const { RTCPeerConnection, useVP8 } = await import('werift');
    const pc = new RTCPeerConnection({ codecs: { video: [useVP8()] } });
    pc.addTransceiver('video', { direction: 'sendonly' });
    await pc.setLocalDescription(await pc.createOffer());
    offerOnWatcher.send({ type: 'live.offer', sdp: pc.localDescription!.sdp });
    expect(await offerOnWatcher.next((m) => m['type'] === 'error')).toMatchObject({ code: 'CONFLICT' });
    offerOnWatcher.close();
    await pc.close();

    // DELETE through the balancer, sent when the next server in turn is not the owner.
    await passOver(owner);
    const del = await fetch(`${lb}/api/v1/whip/${session.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(del.status).toBe(200);
    const deletedBy = del.headers.get('x-served-by') as Node;
    expect(deletedBy).not.toBe(owner);

    const ended = await watcher.next((m) => m['type'] === 'live.ended', 20_000);
    expect(ended).toMatchObject({ sessionId: session.id, reason: 'stopped' });
    watcher.close();
    await streaming;

    // What each server's metrics say.
    const after = new Map(await Promise.all(NODES.map(async (n) => [n, await metrics(n)] as const)));
    const delta = (n: Node, key: string): number => metric(after.get(n)!, key) - metric(before.get(n)!, key);
    const patchKey = 'lookout_http_requests_total{method="PATCH",route="/api/v1/whip/:id",status="204"}';
    const deleteKey = 'lookout_http_requests_total{method="DELETE",route="/api/v1/whip/:id",status="200"}';
    for (const n of NODES) expect(delta(n, patchKey), `PATCHes answered by ${n}`).toBe(patchedBy.filter((x) => x === n).length);
    expect(delta(deletedBy, deleteKey)).toBe(1);
    expect(delta(deletedBy, 'lookout_cluster_forwarded_total{op="stop"}')).toBe(1);
    expect(delta(owner, 'lookout_cluster_served_total{op="ice"}')).toBe(forwardedPatches);
    expect(delta(owner, 'lookout_cluster_served_total{op="stop"}')).toBe(1);
    expect(delta(owner, 'lookout_cluster_served_total{op="watch"}')).toBeGreaterThanOrEqual(1);
    expect(delta(watcherNode, 'lookout_cluster_forwarded_total{op="watch"}')).toBeGreaterThanOrEqual(1);

    // Settled once: the row's charge is its frames at the price, and the ledger agrees.
    const { db } = fixture().database;
    const row = await db.selectFrom('live_sessions').selectAll().where('id', '=', session.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ state: 'ended', end_reason: 'stopped', node_id: owner });
    expect(row.tokens_charged_milli).toBe(row.frames_processed * 500);
    const held = await db.selectFrom('token_reservations').selectAll().where('ref', '=', `live:${session.id}`).executeTakeFirstOrThrow();
    expect(held.charged_milli).toBe(row.tokens_charged_milli);
    expect(held.held_milli - held.charged_milli - held.refunded_milli).toBe(0);
    const health = (await (await fetch(`${lb}/api/v1/health`)).json()) as { cluster: { nodes: { id: string }[] } };
    expect(health.cluster.nodes.map((n) => n.id).sort()).toEqual([...NODES]);
    console.log(`cluster routing: session on ${owner}; PATCHes served by ${patchedBy.join(', ')}; DELETE by ${deletedBy}; watched from ${watcherNode}; ${row.frames_processed} frames, ${row.tokens_charged_milli / 1000} tokens`);
  }, 180_000);

  it('a server killed mid-session: within 30 s its session is ended as server_lost, charged for its frames, and a watcher elsewhere is told', async () => {
    const token = await signUp();
    const abort = new AbortController();
    const streaming = stream(token, abort.signal);
    const session = await liveSession(30);
    const owner = session.node;
    const watcherNode = other(owner);
    const watcher = await openSocket(servers.get(watcherNode)!.url, token);
    watcher.send({ type: 'subscribe', topic: `live:${session.id}` });
    expect(await watcher.next((m) => m['type'] === 'live.stats', 15_000)).toMatchObject({ sessionId: session.id });

    // The third server forwards a PATCH, so it remembers the owner (and, not watching, hears nothing of its end).
    const third = NODES.find((n) => n !== owner && n !== watcherNode)!;
    const patchOn = (n: Node): Promise<Response> =>
      fetch(`${servers.get(n)!.url}/api/v1/whip/${session.id}`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/trickle-ice-sdpfrag' }, body: 'a=mid:0\r\n' });
    expect((await patchOn(third)).status).toBe(204);

    const killedAt = Date.now();
    servers.get(owner)!.proc.kill('SIGKILL'); // its PostgreSQL and Redis are untouched
    const ended = await watcher.next((m) => m['type'] === 'live.ended', 30_000);
    const noticedS = (Date.now() - killedAt) / 1000;
    expect(ended).toMatchObject({ sessionId: session.id, reason: 'server_lost' });
    watcher.close();
    abort.abort();
    await streaming;
    // The owner the third server remembers is gone: it looks again and finds the session ended: 404, not a 503
    // for an unreachable owner.
    expect((await patchOn(third)).status).toBe(404);

    const { db } = fixture().database;
    const row = await db.selectFrom('live_sessions').selectAll().where('id', '=', session.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ state: 'ended', end_reason: 'server_lost' });
    // Charged exactly for the frames its row records (its last heartbeat), and the rest of the hold came back.
    expect(row.frames_processed).toBeGreaterThanOrEqual(30);
    expect(row.tokens_charged_milli).toBe(row.frames_processed * 500);
    const held = await db.selectFrom('token_reservations').selectAll().where('ref', '=', `live:${session.id}`).executeTakeFirstOrThrow();
    expect(held.charged_milli).toBe(row.tokens_charged_milli);
    expect(held.held_milli - held.charged_milli - held.refunded_milli).toBe(0);
    const refunds = await db.selectFrom('token_ledger').select('idempotency_key').where('idempotency_key', 'like', `live:${session.id}:refund%`).execute();
    expect(refunds).toHaveLength(1);
    // What the lost server recorded stays reachable from the others (RECORDINGS_DIR is shared here).
    expect(row.recording_path).toBeTruthy();
    const recording = await until('the recording served by another server', 20_000, async () => {
      const r = await fetch(`${lb}/api/v1/live-sessions/${session.id}/recording`, { headers: { authorization: `Bearer ${token}` } });
      if (r.status === 200) return r;
      await r.body?.cancel();
      return undefined;
    });
    expect(recording.headers.get('x-served-by')).not.toBe(owner);
    expect((await recording.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    const me = (await (await fetch(`${lb}/api/v1/tokens`, { headers: { authorization: `Bearer ${token}` } })).json()) as { balance: number };
    expect(me.balance).toBe(1000 - row.tokens_charged_milli / 1000);
    console.log(`lost server: ${owner} killed; ${watcherNode}'s watcher told after ${noticedS.toFixed(1)} s; ${row.frames_processed} frames charged ${row.tokens_charged_milli / 1000} tokens`);
  }, 180_000);
});
