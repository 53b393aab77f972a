/**
 * `npm run bench:cluster [-- --seconds 30 --patches 400 --fps 15]`
 *
 * What routing between servers adds. Starts two servers (A and B, separate processes) on PostgreSQL
 * (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test: a database of its own is created there and
 * dropped) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379), streams a face clip by WHIP to A, and
 * measures in one run:
 * - WHIP PATCH answered by A itself against the same PATCH sent to B and forwarded to A (alternating; most are
 *   answered 429 by the session's trickle limit, which runs in the owner: the same path and cost);
 * - WHIP DELETE the same way, sent by another user so that the session lives on: the owner answers 404 after
 *   the same lookup a real DELETE makes (B forwards it like any other);
 * - each detections message's arrival at a WebSocket watcher on A against one on B (relayed through Redis), per
 *   frame, on this process's clock.
 * Requests are timed on a worker thread, detections on this process's clock. Prints p50/p95 of each and the
 * difference; the README has a run's figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket from 'ws';
import { streamFile } from '../src/live/client/stream.js';
import { makeFaceClip } from '../test/helpers/media.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '30' }, patches: { type: 'string', default: '400' }, fps: { type: 'string', default: '15' } } });
const seconds = Number(values.seconds);
const patches = Number(values.patches);
const root = path.resolve(import.meta.dirname, '..');
const pgUrl = process.env['BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const dbName = `lookout_bench_cluster_${randomBytes(4).toString('hex')}`;
const tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-bench-cluster-'));
const children: ChildProcess[] = [];

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });

async function sql(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  await c.query(text);
  await c.end();
}

async function startServer(node: string, dbUrl: string): Promise<string> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env['PATH'], HOME: process.env['HOME'], NODE_ID: node, PORT: String(port), HOST: '127.0.0.1', HTTPS_PORT: '0', PUBLIC_URL: url,
    DATABASE_URL: dbUrl, REDIS_URL: redisUrl, JOBS_QUEUE: dbName, DATA_DIR: path.join(tmp, node), RECORDINGS_DIR: path.join(tmp, 'rec'),
    INITIAL_TOKENS: '100000', PRELOAD_MODELS: 'false', LOG_LEVEL: 'warn', DRAIN_TIMEOUT_S: '0', MODELS_DIR: path.join(root, 'models'),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts')], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  for (let i = 0; i < 240; i++) {
    if ((await fetch(`${url}/api/v1/health`).then((r) => r.status, () => 0)) === 200) return url;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${node} did not start`);
}

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};
const f2 = (x: number): string => x.toFixed(2);

async function watcher(server: string, token: string, sessionId: string, arrivals: Map<number, number>): Promise<WebSocket> {
  const ws = new WebSocket(server.replace('http', 'ws') + '/api/v1/ws', { headers: { authorization: `Bearer ${token}` } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as { type: string; frame?: number };
    if (m.type === 'detections' && typeof m.frame === 'number') arrivals.set(m.frame, performance.now());
  });
  ws.send(JSON.stringify({ type: 'subscribe', topic: `live:${sessionId}` }));
  return ws;
}

type Timings = Record<'PATCH' | 'DELETE', { local: number[]; forwarded: number[] }>;
type Statuses = Record<'PATCH' | 'DELETE', Record<string, number>>;

/** Runs the request loop on a worker thread (plain JavaScript: fetch and a clock) and returns what it timed. */
function probe(data: { a: string; b: string; sessionId: string; token: string; stranger: string; frag: string; rounds: number }): Promise<{ times: Timings; statuses: Statuses }> {
  const code = `
    const { workerData: d, parentPort } = require('node:worker_threads');
    const times = { PATCH: { local: [], forwarded: [] }, DELETE: { local: [], forwarded: [] } };
    const statuses = { PATCH: {}, DELETE: {} };
    (async () => {
      for (let i = 0; i < d.rounds; i++) {
        for (const method of ['PATCH', 'DELETE']) {
          for (const kind of ['local', 'forwarded']) {
            const init = method === 'PATCH'
              ? { method, headers: { authorization: 'Bearer ' + d.token, 'content-type': 'application/trickle-ice-sdpfrag' }, body: d.frag }
              : { method, headers: { authorization: 'Bearer ' + d.stranger } };
            const t0 = performance.now();
            const r = await fetch((kind === 'local' ? d.a : d.b) + '/api/v1/whip/' + d.sessionId, init);
            await r.arrayBuffer();
            times[method][kind].push(performance.now() - t0);
            statuses[method][r.status] = (statuses[method][r.status] || 0) + 1;
          }
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      parentPort.postMessage({ times, statuses });
    })();`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: data });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

try {
  await sql(`create database ${dbName}`);
  const dbUrl = pgUrl.replace(/\/[^/]*$/, `/${dbName}`);
  const a = await startServer('bench-a', dbUrl);
  const b = await startServer('bench-b', dbUrl);
  const clip = path.join(tmp, 'face.mp4');
  await makeFaceClip(clip, { seconds: seconds + 5, width: 320, height: 240 });
  const json = { 'content-type': 'application/json' };
  const signUp = async (): Promise<string> => {
    const creds = { email: `bench-${randomBytes(3).toString('hex')}@example.com`, password: 'correct horse battery' };
    await fetch(`${a}/api/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify(creds) });
    return ((await (await fetch(`${a}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify(creds) })).json()) as { token: string }).token;
  };
  const token = await signUp();
  const stranger = await signUp();

  let sessionId: string | undefined;
  const streaming = streamFile({
    server: a, token, file: clip, codec: 'vp8', fps: Number(values.fps), model: 'blazeface', record: false, whip: true, durationS: seconds,
    onMessage: (m) => {
      if (m.type === 'detections') sessionId ??= m.sessionId;
    },
  });
  while (!sessionId) await new Promise((r) => setTimeout(r, 50));
  const local = new Map<number, number>();
  const remote = new Map<number, number>();
  const wsA = await watcher(a, token, sessionId, local);
  const wsB = await watcher(b, token, sessionId, remote);

  // PATCH and DELETE: local (A) and forwarded (B → A), alternating so both see the same moments of load. Timed on
  // a thread of its own, so that this process's streaming (encoding, RTP) does not delay reading the answers.
  const frag = ['a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=mid:0', ''].join('\r\n');
  const { times, statuses } = await probe({ a, b, sessionId, token, stranger, frag, rounds: patches });
  await streaming;
  await new Promise((r) => setTimeout(r, 500));
  wsA.close();
  wsB.close();

  const deltas = [...local].flatMap(([frame, t]) => (remote.has(frame) ? [remote.get(frame)! - t] : []));
  for (const method of ['PATCH', 'DELETE'] as const) {
    const t = times[method];
    console.log(`${method} (${patches} each, answers ${Object.entries(statuses[method]).map(([s, n]) => `${s}×${n}`).join(' ')}):`);
    console.log(`  local      p50 ${f2(q(t.local, 0.5))} ms, p95 ${f2(q(t.local, 0.95))} ms`);
    console.log(`  forwarded  p50 ${f2(q(t.forwarded, 0.5))} ms, p95 ${f2(q(t.forwarded, 0.95))} ms`);
    console.log(`  routing adds p50 ${f2(q(t.forwarded, 0.5) - q(t.local, 0.5))} ms, p95 ${f2(q(t.forwarded, 0.95) - q(t.local, 0.95))} ms (target ≤ 2 ms at p95)`);
  }
  console.log(`detections: ${local.size} frames on A's watcher, ${remote.size} on B's (relayed), ${deltas.length} matched`);
  console.log(`  relay adds p50 ${f2(q(deltas, 0.5))} ms, p95 ${f2(q(deltas, 0.95))} ms, max ${f2(Math.max(...deltas))} ms (target ≤ 5 ms at p95)`);
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  await sql(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`lookout:cluster:${dbName}:*`).catch(() => []);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await rm(tmp, { recursive: true, force: true });
}
