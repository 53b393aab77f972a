/**
 * `npm run bench:live [-- --seconds 60 --only blazeface:vp8,concurrent --concurrency 4 --budget MS --no-build]`
 *
 * Live sessions end to end on this machine: builds the server (`npm run build`, unless --no-build), starts
 * it as a child process (`node dist/src/main.js`) on a free port with a temporary DATA_DIR (its embedded
 * PostgreSQL, or DATABASE_URL when set) and LOG_LEVEL=warn, registers a user and tops it up through an
 * admin made from ADMIN_EMAIL/ADMIN_PASSWORD, generates a 640x480 30 fps clip of a moving face, then streams
 * it with the repository's client (src/live/client/stream.ts: ffmpeg real-time encode → werift → server):
 * - each model × codec (blazeface, nanodet × vp8, h264), one stream of `--seconds` each;
 * - `--concurrency` (4) simultaneous streams (blazeface, vp8).
 * `--only` picks runs by name (`model:codec`, or `concurrent`), comma separated.
 *
 * Per run: processed fps (frames processed per wall-clock second between the first and the last detections,
 * with a warning when the media did not flow in real time: on a small machine the client's own ffmpeg
 * encoders compete with the server for CPU); stale / late / other drops as % of frames in; server latency p50/p95/p99 (each
 * detections message's `timings.totalMs`: last RTP packet of a frame in → its detections sent); and the
 * p95 over the first vs the last 10 s of media (a latency that creeps up shows as a gap). Writes the
 * figures to bench/results/live-<time>.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { streamFile, type DetectionsMessage, type ServerMessage, type StreamSummary } from '../src/live/client/stream.js';
import { makeFaceClip } from '../test/helpers/media.js';

/** The repository root (works from scripts/ and dist/scripts/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const FPS = 30;
const WIDTH = 640;
const HEIGHT = 480;
const RTP_CLOCK_HZ = 90_000;
const WINDOW_S = 10;
const PASSWORD = 'bench password 123';

// ---------------------------------------------------------------- figures

interface Latency {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return v === undefined ? null : Math.round(v * 100) / 100;
}

function latency(xs: number[]): Latency {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: percentile(s, 0.5), p95: percentile(s, 0.95), p99: percentile(s, 0.99) };
}

const pct = (part: number, whole: number): number => (whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0);

/** Seconds of media from the first frame sent to the frame a detections message is about. */
function mediaTime(d: DetectionsMessage, firstTs: number): number {
  return ((d.rtpTimestamp - firstTs) >>> 0) / RTP_CLOCK_HZ;
}

interface StreamFigures {
  sessionId: string;
  endReason: string | undefined;
  errors: { code: string; message: string }[];
  mediaS: number;
  /** Wall-clock seconds from the first detections message to the last. */
  wallS: number;
  /** mediaS / wallS: below 1 when the client (ffmpeg's real-time encode) or the server could not keep up. */
  realtime: number;
  framesSent: number;
  framesIn: number;
  framesProcessed: number;
  processedFps: number;
  dropPct: { stale: number; late: number; other: number };
  latencyMs: Latency;
  p95FirstVsLast: { first: number | null; last: number | null };
  server: { p50Ms: number | null; p95Ms: number | null; p99Ms: number | null; overBudget: boolean; budgetMs: number; tokensCharged: number } | undefined;
}

/** The latencies of one stream split into all / first 10 s / last 10 s of media. */
function latencySamples(sum: StreamSummary, mediaS: number): { all: number[]; first: number[]; last: number[] } {
  const firstTs = sum.rtpTimestampsSent[0] ?? 0;
  const out = { all: [] as number[], first: [] as number[], last: [] as number[] };
  for (const d of sum.detections) {
    const t = mediaTime(d, firstTs);
    out.all.push(d.timings.totalMs);
    if (t < WINDOW_S) out.first.push(d.timings.totalMs);
    if (t >= mediaS - WINDOW_S) out.last.push(d.timings.totalMs);
  }
  return out;
}

/** A finished stream and when (performance.now(), ms) each of its detections messages arrived. */
interface Run {
  sum: StreamSummary;
  arrivals: number[];
}

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

function wallSeconds(arrivals: number[]): number {
  const first = arrivals[0];
  const last = arrivals.at(-1);
  return first === undefined || last === undefined ? 0 : (last - first) / 1000 + 1 / FPS;
}

function figures({ sum, arrivals }: Run): StreamFigures {
  const st = sum.ended?.stats;
  const mediaS = sum.framesSent / FPS;
  const wallS = wallSeconds(arrivals);
  const lat = latencySamples(sum, mediaS);
  const framesIn = st?.framesIn ?? 0;
  const framesProcessed = st?.framesProcessed ?? sum.detections.length;
  return {
    sessionId: sum.sessionId,
    endReason: sum.ended?.reason,
    errors: sum.errors,
    mediaS: round(mediaS, 2),
    wallS: round(wallS, 2),
    realtime: wallS > 0 ? round(mediaS / wallS, 3) : 0,
    framesSent: sum.framesSent,
    framesIn,
    framesProcessed,
    processedFps: wallS > 0 ? round(framesProcessed / wallS, 1) : 0,
    dropPct: { stale: pct(st?.droppedStale ?? 0, framesIn), late: pct(st?.droppedLate ?? 0, framesIn), other: pct(st?.droppedOther ?? 0, framesIn) },
    latencyMs: latency(lat.all),
    p95FirstVsLast: { first: latency(lat.first).p95, last: latency(lat.last).p95 },
    server: st && { p50Ms: st.p50Ms, p95Ms: st.p95Ms, p99Ms: st.p99Ms, overBudget: st.overBudget, budgetMs: st.budgetMs, tokensCharged: st.tokensCharged },
  };
}

type Pooled = Omit<StreamFigures, 'sessionId' | 'endReason' | 'errors' | 'server'>;

/** Several simultaneous streams as one: fps summed, drops and latencies pooled. */
function pooled(runs: Run[]): Pooled {
  const each = runs.map(figures);
  const add = (f: (x: StreamFigures) => number): number => each.reduce((a, x) => a + f(x), 0);
  const samples = runs.map((r, i) => latencySamples(r.sum, each[i]?.mediaS ?? 0));
  const framesIn = add((x) => x.framesIn);
  const dropped = (k: 'droppedStale' | 'droppedLate' | 'droppedOther'): number => runs.reduce((a, r) => a + (r.sum.ended?.stats[k] ?? 0), 0);
  return {
    mediaS: Math.max(...each.map((x) => x.mediaS)),
    wallS: Math.max(...each.map((x) => x.wallS)),
    realtime: Math.min(...each.map((x) => x.realtime)),
    framesSent: add((x) => x.framesSent),
    framesIn,
    framesProcessed: add((x) => x.framesProcessed),
    processedFps: round(add((x) => x.processedFps), 1),
    dropPct: { stale: pct(dropped('droppedStale'), framesIn), late: pct(dropped('droppedLate'), framesIn), other: pct(dropped('droppedOther'), framesIn) },
    latencyMs: latency(samples.flatMap((s) => s.all)),
    p95FirstVsLast: { first: latency(samples.flatMap((s) => s.first)).p95, last: latency(samples.flatMap((s) => s.last)).p95 },
  };
}

const fmt = (v: number | null): string => (v === null ? '-' : v.toFixed(1));

function printFigures(label: string, f: Pooled): void {
  console.log(
    `  ${label.padEnd(16)} ${f.processedFps.toFixed(1).padStart(5)} fps processed (${f.framesProcessed}/${f.framesIn} in, ${f.framesSent} sent, ${f.mediaS} s of media in ${f.wallS} s)` +
      ` | drops stale ${f.dropPct.stale}% late ${f.dropPct.late}% other ${f.dropPct.other}%` +
      ` | latency p50 ${fmt(f.latencyMs.p50)} p95 ${fmt(f.latencyMs.p95)} p99 ${fmt(f.latencyMs.p99)} ms` +
      ` | p95 first ${WINDOW_S} s ${fmt(f.p95FirstVsLast.first)} vs last ${WINDOW_S} s ${fmt(f.p95FirstVsLast.last)} ms`,
  );
  if (f.realtime < 0.95) console.log(`  ${''.padEnd(16)} ! slower than real time (×${f.realtime}): this machine could not encode, send and process ${label} at ${FPS} fps`);
}

// ---------------------------------------------------------------- server

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

interface Server {
  url: string;
  stop(): Promise<void>;
}

async function waitHealthy(url: string, child: ChildProcess, ms: number): Promise<{ onnx?: unknown }> {
  const start = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before it was healthy`);
    const res = await fetch(`${url}/api/v1/health`).catch(() => undefined);
    if (res?.status === 200) return (await res.json()) as { onnx?: unknown };
    if (Date.now() - start > ms) throw new Error(`the server was not healthy after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function startServer(root: string, dataDir: string, admin: { email: string; password: string }, concurrency: number): Promise<Server & { health: unknown }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: join(dataDir, 'data'),
    RECORDINGS_DIR: join(dataDir, 'recordings'),
    LOG_LEVEL: 'warn',
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
    LIVE_MAX_SESSIONS: String(Math.max(concurrency, Number(process.env['LIVE_MAX_SESSIONS'] ?? 0))),
    LIVE_MAX_SESSIONS_PER_USER: String(concurrency),
  };
  const child = spawn(process.execPath, [join(root, 'dist/src/main.js')], { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(killer);
  };
  try {
    return { url, stop, health: await waitHealthy(url, child, 120_000) };
  } catch (e) {
    await stop();
    throw e;
  }
}

// ---------------------------------------------------------------- accounts

async function api<T>(url: string, method: string, path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(url + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

const login = async (url: string, email: string, password: string): Promise<string> =>
  (await api<{ token: string }>(url, 'POST', '/api/v1/auth/login', { email, password })).token;

/** A new user with `amount` tokens added by the admin; returns its bearer token. */
async function benchUser(url: string, admin: { email: string; password: string }, amount: number): Promise<string> {
  const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
  await api(url, 'POST', '/api/v1/auth/register', { email, password: PASSWORD });
  const adminToken = await login(url, admin.email, admin.password);
  await api(url, 'POST', '/api/v1/admin/top-ups', { email, amount }, adminToken);
  return login(url, email, PASSWORD);
}

// ---------------------------------------------------------------- runs

const root = repoRoot();
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    only: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    budget: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const budgetMs = values.budget === undefined ? undefined : Number(values.budget);
if (!(seconds > 0) || !(Number.isInteger(concurrency) && concurrency > 0) || (budgetMs !== undefined && !(budgetMs > 0))) {
  console.error('usage: npm run bench:live [-- --seconds 60 --only blazeface:vp8,concurrent --concurrency 4 --budget MS --no-build]');
  process.exit(2);
}
const singles = ['blazeface', 'nanodet'].flatMap((model) => (['vp8', 'h264'] as const).map((codec) => ({ name: `${model}:${codec}`, model, codec })));
const only = values.only?.split(',').map((s) => s.trim());
const chosen = singles.filter((r) => !only || only.includes(r.name));
const withConcurrent = !only || only.includes('concurrent');
const unknown = only?.filter((n) => n !== 'concurrent' && !singles.some((r) => r.name === n)) ?? [];
if (unknown.length > 0) {
  console.error(`--only: unknown run ${unknown.join(', ')}; known: ${singles.map((r) => r.name).join(', ')}, concurrent`);
  process.exit(2);
}

if (!values['no-build']) await run('npm', ['run', 'build', '--silent'], root);
const tmp = await mkdtemp(join(tmpdir(), 'lookout-bench-live-'));
await chmod(tmp, 0o711); // as root, the embedded PostgreSQL runs as another user and must reach DATA_DIR inside
const admin = { email: `bench-admin-${randomBytes(4).toString('hex')}@example.com`, password: PASSWORD };
const clip = join(tmp, 'face.mp4');
console.log(`generating a ${WIDTH}x${HEIGHT} ${FPS} fps ${seconds + 5} s face clip…`);
await makeFaceClip(clip, { seconds: seconds + 5, width: WIDTH, height: HEIGHT, fps: FPS });
console.log('starting the server…');
const server = await startServer(root, tmp, admin, concurrency);
const results: Record<string, unknown> = {};
try {
  const frames = (chosen.length + (withConcurrent ? concurrency : 0)) * seconds * FPS;
  const price = Number(process.env['PRICE_LIVE_FRAME'] ?? 0.5);
  const token = await benchUser(server.url, admin, Math.ceil(frames * price * 1.5) + 100);
  const stream = async (model: string, codec: 'vp8' | 'h264'): Promise<Run> => {
    const arrivals: number[] = [];
    const onMessage = (m: ServerMessage): void => {
      if (m.type === 'detections') arrivals.push(performance.now());
    };
    return { sum: await streamFile({ server: server.url, token, file: clip, codec, fps: FPS, model, budgetMs, durationS: seconds, onMessage }), arrivals };
  };

  for (const r of chosen) {
    console.log(`${r.name}: streaming ${seconds} s…`);
    const f = figures(await stream(r.model, r.codec));
    printFigures(r.name, f);
    if (f.endReason !== 'stopped' || f.errors.length > 0) console.log(`  ended: ${f.endReason ?? 'no live.ended'}; errors: ${JSON.stringify(f.errors)}`);
    results[r.name] = { model: r.model, codec: r.codec, ...f };
  }
  if (withConcurrent) {
    console.log(`concurrent: ${concurrency} × blazeface:vp8 for ${seconds} s…`);
    const runs = await Promise.all(Array.from({ length: concurrency }, () => stream('blazeface', 'vp8')));
    const each = runs.map(figures);
    each.forEach((f, i) => printFigures(`stream ${i + 1}`, f));
    const all = pooled(runs);
    printFigures(`all ${concurrency}`, all);
    results['concurrent'] = { model: 'blazeface', codec: 'vp8', streams: concurrency, pooled: all, each };
  }
} finally {
  await server.stop();
  await rm(tmp, { recursive: true, force: true });
}

const out = {
  date: new Date().toISOString(),
  machine: { cpus: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  settings: { seconds, fps: FPS, size: `${WIDTH}x${HEIGHT}`, concurrency, budgetMs: budgetMs ?? 'server default', database: process.env['DATABASE_URL'] ? 'DATABASE_URL' : 'embedded' },
  health: server.health,
  results,
};
await mkdir(join(root, 'bench/results'), { recursive: true });
const file = join(root, 'bench/results', `live-${out.date.replace(/[:.]/g, '-')}.json`);
await writeFile(file, JSON.stringify(out, null, 2) + '\n');
console.log(`written ${file}`);
