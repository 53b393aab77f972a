/**
 * `npm run bench:live [-- --seconds 60 --only blazeface:vp8,concurrent --concurrency 4 --model blazeface --codec vp8
 *   --ramp 1,2,4,8,16,24,32 --batch on|off|both --budget MS --store on|off|both --store-rounds 2 --fps 30 --no-build]`
 *
 * Live sessions end to end on this machine: builds the server (`npm run build`, unless --no-build), starts
 * it as a child process (`node dist/src/main.js`) on a free port with a temporary DATA_DIR (its embedded
 * PostgreSQL, or DATABASE_URL when set) and LOG_LEVEL=warn, registers a user and tops it up through an
 * admin made from ADMIN_EMAIL/ADMIN_PASSWORD, generates a 640x480 30 fps clip of a moving face, then streams
 * it with the repository's client (src/live/client/stream.ts: ffmpeg real-time encode → werift → server):
 * - each model × codec (blazeface, nanodet × vp8, h264), one stream of `--seconds` each, and
 *   `blazeface+emotion:vp8`: the same stream through two stages (BlazeFace, then the emotion classifier on each
 *   face's crop, tracking on as in every session); each single run prints its per-stage medians (detector,
 *   classifier, tracker) and the two-stage run is set against blazeface:vp8;
 * - `--concurrency` (4) simultaneous streams of `--model` (blazeface) in `--codec` (vp8).
 * `--only` picks runs by name (`model:codec`, or `concurrent`), comma separated. `--store off` starts every
 * stream with `store: false` (no stored detections); `--store both` runs the concurrent streams
 * `--store-rounds` (2) more times each without and with them, the order swapped each round, and prints what
 * storing costs as a share of processed fps, and what the store's writes took (its metrics). `--fps` (30) sets
 * the source's frame rate: `--fps 60 --only nanodet:vp8` is the overload case (a model slower than the frames).
 * `BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"` profiles the server (where the time goes).
 *
 * Capacity: `--ramp 1,2,4,…` replaces the one concurrent run by one per N, in ascending order, stopping after
 * the first N the server does not sustain. Sustained: every stream ran to its end, the pooled server latency
 * p95 is within the budget (`--budget`, else the one the server reports, else 100 ms) and the server
 * processed at least 95% of the frames it received. One line per N, then per batch mode
 * `<model> <codec> batch=<mode>: sustains N streams (provider <p>)`.
 * `--batch on|off` starts the server with LIVE_BATCH=on|off (default: as inherited, i.e. the server's auto);
 * `both` does everything twice on a fresh server each time, off first, then on. Each concurrent run reports
 * the mean batch size (frames per inference run) from the delta of /metrics' lookout_live_batch_size.
 *
 * Per run: processed fps (frames processed per wall-clock second between the first and the last detections,
 * with a warning when the media did not flow in real time: on a small machine the client's own ffmpeg
 * encoders compete with the server for CPU); stale / late / other drops as % of frames in; server latency p50/p95/p99 (each
 * detections message's `timings.totalMs`: last RTP packet of a frame in → its detections sent); and the
 * p95 over the first vs the last 10 s of media (a latency that creeps up shows as a gap). Writes the
 * figures to bench/results/live-<time>.json (with --ramp: `ramp` per batch mode and `maxSustained`; `health`
 * is keyed by batch mode when --batch is given).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { PipelineFields } from '../src/live/client/messages.js';
import { streamFile, type DetectionsMessage, type ServerMessage, type StreamSummary } from '../src/live/client/stream.js';
import { makeFaceClip } from '../test/helpers/media.js';
import { repoRoot } from './lib/repo-root.js';

const WIDTH = 640;
const HEIGHT = 480;
const RTP_CLOCK_HZ = 90_000;
const WINDOW_S = 10;
/** The start-up window: the first seconds of the first stream on a fresh server against its last seconds. */
const START_S = 3;
const PASSWORD = 'bench password 123';
/** The server's LIVE_BUDGET_MS default, for when no session reported its budget. */
const DEFAULT_BUDGET_MS = 100;
/** Sustained means at least this share of the frames the server received were processed. */
const SUSTAINED_PROCESSED = 0.95;
/** Between ramp steps: the last sessions' teardown finishes before the next step counts sessions or CPU. */
const SETTLE_MS = 2_000;

type Codec = 'vp8' | 'h264';
/** LIVE_BATCH values this script sets (`auto`, the server's default, is what leaving it unset gives). */
type BatchMode = 'on' | 'off';

// ---------------------------------------------------------------- figures

interface Stages {
  inferMs: number;
  classifyMs: number;
  trackMs: number;
  /** Objects per processed frame (mean). */
  objects: number;
}

/** Median per-stage times of a stream's detections messages. */
function stages(sum: StreamSummary): Stages {
  const med = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return Math.round((s[Math.floor((s.length - 1) / 2)] ?? 0) * 100) / 100;
  };
  const d = sum.detections;
  return {
    inferMs: med(d.map((x) => x.timings.inferMs)),
    classifyMs: med(d.map((x) => x.timings.classifyMs ?? 0)),
    trackMs: med(d.map((x) => x.timings.trackMs ?? 0)),
    objects: Math.round((d.reduce((n, x) => n + x.objects.length, 0) / Math.max(1, d.length)) * 100) / 100,
  };
}

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
  /** The same over the first and last START_S seconds, and first / last. */
  p95Start: { first: number | null; last: number | null; ratio: number | null };
  server: { p50Ms: number | null; p95Ms: number | null; p99Ms: number | null; overBudget: boolean; budgetMs: number; tokensCharged: number } | undefined;
}

/** The latencies of one stream split into all / first 10 s / last 10 s of media. */
function latencySamples(sum: StreamSummary, mediaS: number): { all: number[]; first: number[]; last: number[]; startFirst: number[]; startLast: number[] } {
  const firstTs = sum.rtpTimestampsSent[0] ?? 0;
  const out = { all: [] as number[], first: [] as number[], last: [] as number[], startFirst: [] as number[], startLast: [] as number[] };
  for (const d of sum.detections) {
    const t = mediaTime(d, firstTs);
    out.all.push(d.timings.totalMs);
    if (t < WINDOW_S) out.first.push(d.timings.totalMs);
    if (t >= mediaS - WINDOW_S) out.last.push(d.timings.totalMs);
    if (t < START_S) out.startFirst.push(d.timings.totalMs);
    if (t >= mediaS - START_S) out.startLast.push(d.timings.totalMs);
  }
  return out;
}

function startFigures(first: number[], last: number[]): { first: number | null; last: number | null; ratio: number | null } {
  const f = latency(first).p95;
  const l = latency(last).p95;
  return { first: f, last: l, ratio: f !== null && l !== null && l > 0 ? round(f / l, 2) : null };
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
    p95Start: startFigures(lat.startFirst, lat.startLast),
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
    p95Start: startFigures(samples.flatMap((s) => s.startFirst), samples.flatMap((s) => s.startLast)),
  };
}

const fmt = (v: number | null): string => (v === null ? '-' : v.toFixed(1));

function printFigures(label: string, f: Pooled): void {
  console.log(
    `  ${label.padEnd(16)} ${f.processedFps.toFixed(1).padStart(5)} fps processed (${f.framesProcessed}/${f.framesIn} in, ${f.framesSent} sent, ${f.mediaS} s of media in ${f.wallS} s)` +
      ` | drops stale ${f.dropPct.stale}% late ${f.dropPct.late}% other ${f.dropPct.other}%` +
      ` | latency p50 ${fmt(f.latencyMs.p50)} p95 ${fmt(f.latencyMs.p95)} p99 ${fmt(f.latencyMs.p99)} ms` +
      ` | p95 first ${WINDOW_S} s ${fmt(f.p95FirstVsLast.first)} vs last ${WINDOW_S} s ${fmt(f.p95FirstVsLast.last)} ms` +
      ` | p95 first ${START_S} s ${fmt(f.p95Start.first)} vs last ${START_S} s ${fmt(f.p95Start.last)} ms (×${f.p95Start.ratio ?? '–'})`,
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

/** What this script reads of GET /api/v1/health; the whole body goes to the results. */
interface Health {
  onnx?: { providers?: Record<string, string[]> };
}

async function health(url: string): Promise<Health | undefined> {
  const res = await fetch(`${url}/api/v1/health`).catch(() => undefined);
  return res?.status === 200 ? ((await res.json()) as Health) : undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitHealthy(url: string, child: ChildProcess, ms: number): Promise<Health> {
  const start = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before it was healthy`);
    const h = await health(url);
    if (h) return h;
    if (Date.now() - start > ms) throw new Error(`the server was not healthy after ${ms} ms`);
    await sleep(250);
  }
}

/**
 * Waits (at most `ms`) for /health to list `model`'s provider: the server loads its models in the background
 * after it is healthy, and a run started before would measure the loading.
 */
async function modelLoaded(url: string, model: string, ms: number): Promise<boolean> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if ((await health(url))?.onnx?.providers?.[model] !== undefined) return true;
    await sleep(250);
  }
  return false;
}

interface ServerOptions {
  /** Sessions that run at the same time, at most. */
  streams: number;
  /** Sessions started over the server's life (its per-minute rate limit must let them all through). */
  starts: number;
  /** LIVE_BATCH; undefined leaves it as inherited. */
  batch: BatchMode | undefined;
}

async function startServer(root: string, dataDir: string, admin: { email: string; password: string }, o: ServerOptions): Promise<Server & { health: Health }> {
  const port = await freePort();
  const atLeast = (name: string, n: number): string => String(Math.max(n, Number(process.env[name] ?? 0)));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: join(dataDir, 'data'),
    RECORDINGS_DIR: join(dataDir, 'recordings'),
    LOG_LEVEL: 'warn',
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
    LIVE_MAX_SESSIONS: atLeast('LIVE_MAX_SESSIONS', o.streams),
    LIVE_MAX_SESSIONS_PER_USER: String(o.streams),
    // Live session starts per user per minute (default 20): a ramp starts more than that in a minute.
    RATE_LIMIT_LIVE: atLeast('RATE_LIMIT_LIVE', o.starts),
    ...(o.batch === undefined ? {} : { LIVE_BATCH: o.batch }),
  };
  // BENCH_SERVER_NODE_ARGS: flags for the server's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" for a profile.
  const nodeArgs = (process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, join(root, 'dist/src/main.js')], { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
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

/** lookout_live_batch_size's running sum and count for one model. */
interface BatchTotals {
  sum: number;
  count: number;
}

/** Zeros before the model's first inference run; undefined when /metrics cannot be read. */
async function batchTotals(url: string, model: string): Promise<BatchTotals | undefined> {
  const token = process.env['METRICS_TOKEN'];
  const res = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).catch(() => undefined);
  if (!res?.ok) return undefined;
  const totals: BatchTotals = { sum: 0, count: 0 };
  for (const line of (await res.text()).split('\n')) {
    const m = /^lookout_live_batch_size_(sum|count)\{([^}]*)\} (\S+)/.exec(line);
    if (m?.[2]?.split(',').includes(`model="${model}"`)) totals[m[1] as keyof BatchTotals] = Number(m[3]);
  }
  return totals;
}

/** The detection store's writes so far (metrics): seconds spent writing, writes, frames stored. */
async function storeTotals(url: string): Promise<{ seconds: number; writes: number; frames: number } | undefined> {
  const token = process.env['METRICS_TOKEN'];
  const res = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).catch(() => undefined);
  if (!res?.ok) return undefined;
  const t = { seconds: 0, writes: 0, frames: 0 };
  for (const line of (await res.text()).split('\n')) {
    const m = /^(lookout_live_detection_write_seconds_sum|lookout_live_detection_write_seconds_count|lookout_live_detections_stored_total) (\S+)/.exec(line);
    if (m?.[1] === 'lookout_live_detection_write_seconds_sum') t.seconds = Number(m[2]);
    if (m?.[1] === 'lookout_live_detection_write_seconds_count') t.writes = Number(m[2]);
    if (m?.[1] === 'lookout_live_detections_stored_total') t.frames = Number(m[2]);
  }
  return t;
}

/** Frames per inference run between two readings. */
function meanBatch(before: BatchTotals | undefined, after: BatchTotals | undefined): number | undefined {
  const runs = before && after ? after.count - before.count : 0;
  return before && after && runs > 0 ? round((after.sum - before.sum) / runs, 2) : undefined;
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

// ---------------------------------------------------------------- capacity

/** One concurrent run of a ramp, as written to the results. */
interface RampStep {
  streams: number;
  sustained: boolean;
  processedPct: number;
  p95: number | null;
  fpsPerStream: number;
  realtime: number;
  meanBatch?: number;
  budgetMs: number;
  /** Streams that failed or ended otherwise than stopped, and why. */
  failures?: string[];
  pooled?: Pooled;
}

/** `n` simultaneous streams. Under load a stream may fail or be cut off: a finding of the ramp, not an error of it. */
async function concurrently(n: number, stream: () => Promise<Run>): Promise<{ runs: Run[]; failures: string[] }> {
  const settled = await Promise.allSettled(Array.from({ length: n }, () => stream()));
  const runs: Run[] = [];
  const failures: string[] = [];
  for (const s of settled) {
    if (s.status === 'rejected') {
      failures.push(s.reason instanceof Error ? s.reason.message : String(s.reason));
      continue;
    }
    runs.push(s.value);
    const { ended, errors } = s.value.sum;
    if (ended?.reason !== 'stopped') failures.push(`ended: ${ended?.reason ?? 'no live.ended'}${errors.length > 0 ? ` (${errors.map((e) => e.code).join(', ')})` : ''}`);
  }
  return { runs, failures };
}

interface Outcome {
  n: number;
  runs: Run[];
  failures: string[];
  meanBatch: number | undefined;
}

/** Whether `n` streams were sustained, and if not, why. */
function judge({ n, runs, failures, meanBatch }: Outcome, requestedBudgetMs: number | undefined): { step: RampStep; why: string[] } {
  const all = runs.length > 0 ? pooled(runs) : undefined;
  const budget = runs.find((r) => r.sum.ended)?.sum.ended?.stats.budgetMs ?? requestedBudgetMs ?? DEFAULT_BUDGET_MS;
  const p95 = all?.latencyMs.p95 ?? null;
  const framesIn = all?.framesIn ?? 0;
  const framesProcessed = all?.framesProcessed ?? 0;
  const why = [
    ...(failures.length > 0 ? [`${failures.length} of ${n} streams failed`] : []),
    ...(p95 === null ? ['no detections'] : p95 > budget ? [`p95 over the ${budget} ms budget`] : []),
    ...(framesProcessed < SUSTAINED_PROCESSED * framesIn || framesIn === 0 ? [`under ${SUSTAINED_PROCESSED * 100}% processed`] : []),
  ];
  const step: RampStep = {
    streams: n,
    sustained: why.length === 0,
    processedPct: pct(framesProcessed, framesIn),
    p95,
    fpsPerStream: round((all?.processedFps ?? 0) / n, 1),
    realtime: all?.realtime ?? 0,
    ...(meanBatch === undefined ? {} : { meanBatch }),
    budgetMs: budget,
    ...(failures.length > 0 ? { failures } : {}),
    ...(all ? { pooled: all } : {}),
  };
  return { step, why };
}

function printStep(step: RampStep, why: string[]): void {
  const batch = step.meanBatch === undefined ? '' : `, mean batch ${step.meanBatch}`;
  const verdict = step.sustained ? 'sustained' : `not sustained (${why.join('; ')})`;
  console.log(
    `  ${step.streams} streams: processed ${step.processedPct}% (fps per stream ${step.fpsPerStream}), p95 ${fmt(step.p95)} ms, realtime ${step.realtime}${batch} → ${verdict}`,
  );
  for (const f of new Set(step.failures)) console.log(`    ! ${f}`);
  if (step.realtime > 0 && step.realtime < 0.95) console.log(`    ! slower than real time: this machine could not encode, send and process ${step.streams} streams at ${FPS} fps`);
}

/** Mean batch size over one run, read from the server's metrics around it. */
async function withMeanBatch<T>(url: string, model: string, body: () => Promise<T>): Promise<{ result: T; meanBatch: number | undefined }> {
  const before = await batchTotals(url, model);
  const result = await body();
  return { result, meanBatch: meanBatch(before, await batchTotals(url, model)) };
}

/** The concurrent run for each of `ns` (ascending), up to and including the first not sustained. */
async function ramp(ns: number[], url: string, model: string, stream: () => Promise<Run>, requestedBudgetMs: number | undefined): Promise<RampStep[]> {
  const steps: RampStep[] = [];
  for (const n of ns) {
    if (steps.length > 0) await sleep(SETTLE_MS);
    const { result, meanBatch } = await withMeanBatch(url, model, () => concurrently(n, stream));
    const { step, why } = judge({ n, ...result, meanBatch }, requestedBudgetMs);
    printStep(step, why);
    steps.push(step);
    if (!step.sustained) break;
  }
  return steps;
}

/** The most streams sustained: steps ascend and end at the first not sustained. */
const maxSustainedOf = (steps: RampStep[]): number => steps.filter((s) => s.sustained).at(-1)?.streams ?? 0;

// ---------------------------------------------------------------- runs

const root = repoRoot();
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    only: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    model: { type: 'string', default: 'blazeface' },
    codec: { type: 'string', default: 'vp8' },
    ramp: { type: 'string' },
    batch: { type: 'string' },
    budget: { type: 'string' },
    store: { type: 'string', default: 'on' },
    'store-rounds': { type: 'string', default: '2' },
    fps: { type: 'string', default: '30' },
    'no-build': { type: 'boolean', default: false },
  },
});

function usage(problem?: string): never {
  if (problem) console.error(problem);
  console.error(
    'usage: npm run bench:live [-- --seconds 60 --only blazeface:vp8,concurrent --concurrency 4 --model blazeface --codec vp8 --ramp 1,2,4,8 --batch on|off|both --budget MS --store on|off|both --store-rounds 2 --fps 30 --no-build]',
  );
  process.exit(2);
}

const isCount = (n: number): boolean => Number.isInteger(n) && n > 0;
const seconds = Number(values.seconds);
/** The source's frame rate (`--fps`, 30): 60 with nanodet is the overload case, a model slower than the frame interval. */
const FPS = Number(values.fps);
const concurrency = Number(values.concurrency);
const budgetMs = values.budget === undefined ? undefined : Number(values.budget);
const model = values.model;
const codec: Codec = (['vp8', 'h264'] as const).find((c) => c === values.codec) ?? usage(`--codec: vp8 or h264, got ${values.codec}`);
const batch = (['on', 'off', 'both'] as const).find((b) => b === values.batch);
const store = (['on', 'off', 'both'] as const).find((b) => b === values.store) ?? usage(`--store: on, off or both, got ${values.store}`);
const rampNs = values.ramp === undefined ? undefined : [...new Set(values.ramp.split(',').map(Number))].sort((a, b) => a - b);
if (!(seconds > 0) || !isCount(FPS) || FPS > 120 || !isCount(concurrency) || (budgetMs !== undefined && !(budgetMs > 0))) usage();
if (values.batch !== undefined && batch === undefined) usage(`--batch: on, off or both, got ${values.batch}`);
if (rampNs && !rampNs.every(isCount)) usage(`--ramp: stream counts (whole numbers above 0), comma separated, got ${values.ramp}`);
const singles: { name: string; model: string; codec: Codec; pipeline?: PipelineFields }[] = [
  ...['blazeface', 'nanodet'].flatMap((model) => (['vp8', 'h264'] as const).map((codec) => ({ name: `${model}:${codec}`, model, codec }))),
  { name: 'blazeface+emotion:vp8', model: 'blazeface', codec: 'vp8', pipeline: { classifier: 'emotion' } },
];
const only = values.only?.split(',').map((s) => s.trim());
const chosen = singles.filter((r) => !only || only.includes(r.name));
const withConcurrent = !only || only.includes('concurrent');
const unknown = only?.filter((n) => n !== 'concurrent' && !singles.some((r) => r.name === n)) ?? [];
if (unknown.length > 0) usage(`--only: unknown run ${unknown.join(', ')}; known: ${singles.map((r) => r.name).join(', ')}, concurrent`);
if (rampNs && !withConcurrent) usage('--ramp replaces the concurrent run: add concurrent to --only');

/** One server start per mode; undefined leaves LIVE_BATCH as inherited. Off first: it is the baseline. */
const batchModes: (BatchMode | undefined)[] = batch === 'both' ? ['off', 'on'] : [batch];
const batchLabel = (mode: BatchMode | undefined): string => mode ?? process.env['LIVE_BATCH'] ?? 'auto';
/** The stream counts of the concurrent runs on each server. */
const concurrentNs = withConcurrent ? (rampNs ?? [concurrency]) : [];
/** `--store both`: rounds of (store off, store on) after the concurrent run. */
const STORE_ROUNDS = Number(values['store-rounds']);
if (!isCount(STORE_ROUNDS)) usage(`--store-rounds: a whole number of rounds, got ${values['store-rounds']}`);
const streamsPerServer = chosen.length + concurrentNs.reduce((a, n) => a + n, 0) + (store === 'both' && withConcurrent ? 2 * STORE_ROUNDS * concurrency : 0);

if (!values['no-build']) await run('npm', ['run', 'build', '--silent'], root);
const tmp = await mkdtemp(join(tmpdir(), 'lookout-bench-live-'));
await chmod(tmp, 0o711); // as root, the embedded PostgreSQL runs as another user and must reach DATA_DIR inside
const admin = { email: `bench-admin-${randomBytes(4).toString('hex')}@example.com`, password: PASSWORD };
const clip = join(tmp, 'face.mp4');
const results: Record<string, unknown> = {};
const healthByMode: Record<string, unknown> = {};
const ramps: Record<string, RampStep[]> = {};
const summaries: string[] = [];

/** Every chosen run on one server; returns the server's health after them (with the providers of the models they loaded). */
async function benchServer(url: string, label: string): Promise<Health | undefined> {
  const frames = streamsPerServer * seconds * FPS;
  const price = Number(process.env['PRICE_LIVE_FRAME'] ?? 0.5);
  const token = await benchUser(url, admin, Math.ceil(frames * price * 1.5) + 100);
  const stream = async (model: string, codec: Codec, pipeline?: PipelineFields, keep = store !== 'off'): Promise<Run> => {
    const arrivals: number[] = [];
    const onMessage = (m: ServerMessage): void => {
      if (m.type === 'detections') arrivals.push(performance.now());
    };
    return { sum: await streamFile({ server: url, token, file: clip, codec, fps: FPS, model, budgetMs, durationS: seconds, onMessage, store: keep, ...(pipeline ? { pipeline } : {}) }), arrivals };
  };
  // With several server starts the results of each are told apart by their batch mode.
  const key = (name: string): string => (batchModes.length > 1 ? `${name} batch=${label}` : name);

  for (const r of chosen) {
    console.log(`${r.name}: streaming ${seconds} s…`);
    const runResult = await stream(r.model, r.codec, r.pipeline);
    const f = figures(runResult);
    printFigures(r.name, f);
    const st = stages(runResult.sum);
    console.log(`  ${''.padEnd(16)} per frame (median): detector ${st.inferMs} ms, classifier ${st.classifyMs} ms, tracker ${st.trackMs} ms; ${st.objects} objects`);
    if (f.endReason !== 'stopped' || f.errors.length > 0) console.log(`  ended: ${f.endReason ?? 'no live.ended'}; errors: ${JSON.stringify(f.errors)}`);
    results[key(r.name)] = { model: r.model, codec: r.codec, ...(r.pipeline ? { pipeline: r.pipeline } : {}), ...f, stagesMedianMs: st };
  }
  const one = results[key('blazeface:vp8')] as { latencyMs?: { p50: number | null }; stagesMedianMs?: Stages } | undefined;
  const two = results[key('blazeface+emotion:vp8')] as { latencyMs?: { p50: number | null }; stagesMedianMs?: Stages } | undefined;
  if (one?.stagesMedianMs && two?.stagesMedianMs) {
    const a = one.stagesMedianMs.inferMs + one.stagesMedianMs.classifyMs + one.stagesMedianMs.trackMs;
    const b = two.stagesMedianMs.inferMs + two.stagesMedianMs.classifyMs + two.stagesMedianMs.trackMs;
    console.log(`two stages against one (blazeface:vp8): model time per frame ${b.toFixed(2)} ms against ${a.toFixed(2)} ms (x${(b / a).toFixed(2)}); server latency p50 ${two.latencyMs?.p50} ms against ${one.latencyMs?.p50} ms`);
  }
  if (!withConcurrent) return health(url);
  if (!(await modelLoaded(url, model, 60_000))) console.log(`  (the server did not report ${model} loaded within 60 s: the first run includes loading it)`);
  if (rampNs) {
    console.log(`ramp: ${rampNs.join(', ')} × ${model}:${codec} for ${seconds} s each, batch=${label}…`);
    const steps = await ramp(rampNs, url, model, () => stream(model, codec), budgetMs);
    ramps[label] = steps;
    const provider = (await health(url))?.onnx?.providers?.[model]?.[0] ?? 'unknown';
    summaries.push(`${model} ${codec} batch=${label}: sustains ${maxSustainedOf(steps)} streams (provider ${provider})`);
  } else {
    console.log(`concurrent: ${concurrency} × ${model}:${codec} for ${seconds} s…`);
    const { result: runs, meanBatch } = await withMeanBatch(url, model, () => Promise.all(Array.from({ length: concurrency }, () => stream(model, codec))));
    const each = runs.map(figures);
    each.forEach((f, i) => printFigures(`stream ${i + 1}`, f));
    const all = pooled(runs);
    printFigures(`all ${concurrency}`, all);
    if (meanBatch !== undefined) console.log(`  ${''.padEnd(16)} mean batch ${meanBatch} frames per inference run`);
    results[key('concurrent')] = { model, codec, streams: concurrency, store: store !== 'off', ...(meanBatch === undefined ? {} : { meanBatch }), pooled: all, each };
    if (store === 'both') {
      // After the first run (which also warms the server up), rounds of the same streams without and with stored
      // detections, the order swapped each round: the cost of storing them, as a ratio from this one run.
      const rounds: { on: number; off: number }[] = [];
      let bare = all;
      const storeBefore = await storeTotals(url);
      for (let round = 1; round <= STORE_ROUNDS; round++) {
        const both: Record<'on' | 'off', number> = { on: 0, off: 0 };
        for (const keep of round % 2 === 1 ? [false, true] : [true, false]) {
          console.log(`concurrent, round ${round}, store=${keep ? 'on' : 'off'}: ${concurrency} × ${model}:${codec} for ${seconds} s…`);
          const p = pooled(await Promise.all(Array.from({ length: concurrency }, () => stream(model, codec, undefined, keep))));
          printFigures(`all ${concurrency}, store=${keep ? 'on' : 'off'}`, p);
          both[keep ? 'on' : 'off'] = p.processedFps;
          if (!keep) bare = p;
        }
        rounds.push(both);
      }
      const onFps = rounds.reduce((a, r) => a + r.on, 0) / rounds.length;
      const offFps = rounds.reduce((a, r) => a + r.off, 0) / rounds.length;
      const cost = 1 - onFps / offFps;
      console.log(
        `  stored detections: ${onFps.toFixed(1)} fps processed against ${offFps.toFixed(1)} fps without, mean of ${rounds.length} rounds ` +
          `(${rounds.map((r) => `${r.on.toFixed(1)}/${r.off.toFixed(1)}`).join(', ')}): ${(cost * 100).toFixed(1)}% of throughput`,
      );
      // The writes themselves, from the server's metrics: what storing can cost at most, free of the rounds' noise.
      const storeAfter = await storeTotals(url);
      const writes = storeBefore && storeAfter ? { seconds: round(storeAfter.seconds - storeBefore.seconds, 3), writes: storeAfter.writes - storeBefore.writes, frames: storeAfter.frames - storeBefore.frames } : undefined;
      if (writes) {
        const onSeconds = rounds.length * seconds;
        console.log(
          `  the store's writes: ${writes.frames} frames in ${writes.writes} INSERTs, ${(writes.seconds * 1000).toFixed(0)} ms in all over ${onSeconds} s of streams with store=on ` +
            `(${((writes.seconds / onSeconds) * 100).toFixed(2)}% of one connection's time; ${((writes.seconds * 1000) / Math.max(1, writes.frames)).toFixed(3)} ms a frame)`,
        );
      }
      results[key('concurrent store=off')] = { model, codec, streams: concurrency, store: false, pooled: bare, rounds, storeCostPct: Math.round(cost * 1000) / 10, ...(writes ? { storeWrites: writes } : {}) };
    }
  }
  return health(url);
}

try {
  console.log(`generating a ${WIDTH}x${HEIGHT} ${FPS} fps ${seconds + 5} s face clip…`);
  await makeFaceClip(clip, { seconds: seconds + 5, width: WIDTH, height: HEIGHT, fps: FPS });
  for (const mode of batchModes) {
    const label = batchLabel(mode);
    console.log(`starting the server${mode ? ` with LIVE_BATCH=${mode}` : ''}…`);
    const dir = join(tmp, `server-${label}`); // a fresh database each start: runs on one server do not see the other's
    await mkdir(dir);
    await chmod(dir, 0o711);
    const server = await startServer(root, dir, admin, { streams: Math.max(1, ...concurrentNs), starts: streamsPerServer, batch: mode });
    try {
      healthByMode[label] = (await benchServer(server.url, label)) ?? server.health;
    } finally {
      await server.stop();
    }
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
for (const line of summaries) console.log(line);

const out = {
  date: new Date().toISOString(),
  machine: { cpus: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  settings: {
    seconds,
    fps: FPS,
    size: `${WIDTH}x${HEIGHT}`,
    concurrency,
    model,
    codec,
    ...(rampNs ? { ramp: rampNs } : {}),
    batch: batch ?? 'server default',
    budgetMs: budgetMs ?? 'server default',
    database: process.env['DATABASE_URL'] ? 'DATABASE_URL' : 'embedded',
  },
  // One server start unless --batch is given; then one per batch mode.
  health: batch === undefined ? healthByMode[batchLabel(undefined)] : healthByMode,
  results,
  ...(rampNs ? { ramp: ramps, maxSustained: Object.fromEntries(Object.entries(ramps).map(([mode, steps]) => [mode, maxSustainedOf(steps)])) } : {}),
};
await mkdir(join(root, 'bench/results'), { recursive: true });
const file = join(root, 'bench/results', `live-${out.date.replace(/[:.]/g, '-')}.json`);
await writeFile(file, JSON.stringify(out, null, 2) + '\n');
console.log(`written ${file}`);
