/**
 * `npm run stream -- <video file> [--codec vp8|h264] [--fps 30] [--whip] [--server URL] [--token T | --email E --password P]
 *   [--model NAME] [--budget MS] [--record | --no-record] [--duration S] [--size 640x480] [--json [--frames]]`
 *
 * Streams a video file to a Lookout server as a live session (ffmpeg encodes it in real time; werift sends
 * it) and prints one line per detections message, the stats lines, and a summary. The token comes from
 * --token, else LOOKOUT_TOKEN, else a login with --email/--password; the server defaults to
 * http://127.0.0.1:$PORT (8080). With --json only the final summary is printed, as JSON, with counts in
 * place of the per-frame arrays unless --frames is given. Ctrl-C stops the stream and still ends the
 * session properly. Exit codes: 0 ok, 1 server or stream error (or a session that did not end as
 * "stopped"), 2 bad usage (bad options, unreadable file, unknown model).
 */
import { parseArgs } from 'node:util';
import { streamFile, StreamError, type ServerMessage, type StreamOptions, type StreamSummary } from '../live/client/stream.js';

const USAGE =
  'usage: npm run stream -- <video file> [--codec vp8|h264] [--fps 30] [--whip] [--server URL] [--token T | --email E --password P]\n' +
  '         [--model NAME] [--budget MS] [--record | --no-record] [--duration S] [--size 640x480] [--json [--frames]]';

function fail(message: string, code: number): never {
  console.error(message);
  process.exit(code);
}

function positiveNumber(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) fail(`--${name} must be a positive number, got "${raw}"`, 2);
  return n;
}

function size(raw: string | undefined): { width?: number; height?: number } {
  if (raw === undefined) return {};
  const m = /^(\d+)x(\d+)$/.exec(raw);
  if (!m) fail(`--size must look like 640x480, got "${raw}"`, 2);
  return { width: Number(m[1]), height: Number(m[2]) };
}

async function login(server: string, email: string, password: string): Promise<string> {
  const res = await fetch(new URL('/api/v1/auth/login', server), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const body = (await res.json().catch(() => ({}))) as { token?: string; error?: { code: string; message: string } };
  if (res.status !== 200 || !body.token) fail(`login failed: ${body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`}`, 1);
  return body.token;
}

const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : v.toFixed(1));

function printMessage(m: ServerMessage): void {
  if (m.type === 'detections') {
    const labels = m.objects.map((o) => `${o.label} ${o.score.toFixed(2)}`).join(', ');
    console.log(`frame ${String(m.frame).padStart(5)}  ${String(m.objects.length).padStart(2)} obj  total ${ms(m.timings.totalMs).padStart(6)} ms${labels ? `  ${labels}` : ''}`);
  } else if (m.type === 'live.stats') {
    console.log(
      `[stats] in ${m.framesIn} processed ${m.framesProcessed} dropped ${m.framesDropped} (stale ${m.droppedStale}, late ${m.droppedLate}, other ${m.droppedOther})` +
        ` fps ${m.fps.toFixed(1)} p50 ${ms(m.p50Ms)} p95 ${ms(m.p95Ms)} p99 ${ms(m.p99Ms)} ms budget ${m.budgetMs} ms${m.overBudget ? ' OVER BUDGET' : ''} tokens ${m.tokensCharged}`,
    );
  } else if (m.type === 'live.ended') {
    console.log(`[ended] ${m.reason}${m.message ? `: ${m.message}` : ''}`);
  } else if (m.type === 'error') {
    console.log(`[error] ${m.code}: ${m.message}`);
  }
}

function percentile(xs: number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? null;
}

function compact(sum: StreamSummary, frames: boolean): unknown {
  if (frames) return sum;
  const { rtpTimestampsSent: _ts, detections, ...rest } = sum;
  const total = detections.map((d) => d.timings.totalMs);
  return { ...rest, detections: detections.length, latencyMs: { p50: percentile(total, 0.5), p95: percentile(total, 0.95), p99: percentile(total, 0.99) } };
}

function printSummary(sum: StreamSummary): void {
  const total = sum.detections.map((d) => d.timings.totalMs);
  const st = sum.ended?.stats;
  console.log(
    `session ${sum.sessionId} via ${sum.via}: sent ${sum.framesSent} frames, ${sum.detections.length} detections messages` +
      ` (${sum.dataChannelDetections} on the data channel), latency p50 ${ms(percentile(total, 0.5))} p95 ${ms(percentile(total, 0.95))} p99 ${ms(percentile(total, 0.99))} ms`,
  );
  if (st) {
    console.log(
      `ended: ${sum.ended?.reason}; in ${st.framesIn} processed ${st.framesProcessed} dropped ${st.framesDropped}` +
        ` (stale ${st.droppedStale}, late ${st.droppedLate}, other ${st.droppedOther}), tokens charged ${st.tokensCharged}`,
    );
  } else console.log('ended: no live.ended from the server within 10 s');
  for (const e of sum.errors) console.log(`error: ${e.code}: ${e.message}`);
}

function parse(): { opts: Omit<StreamOptions, 'token'>; json: boolean; frames: boolean; auth: { token?: string; email?: string; password?: string } } {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        codec: { type: 'string', default: 'vp8' },
        fps: { type: 'string', default: '30' },
        whip: { type: 'boolean', default: false },
        server: { type: 'string' },
        token: { type: 'string' },
        email: { type: 'string' },
        password: { type: 'string' },
        model: { type: 'string' },
        budget: { type: 'string' },
        record: { type: 'boolean' },
        'no-record': { type: 'boolean' },
        duration: { type: 'string' },
        size: { type: 'string' },
        json: { type: 'boolean', default: false },
        frames: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    fail(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`, 2);
  }
  const { values: v, positionals } = parsed;
  if (v.help) fail(USAGE, 0);
  const file = positionals[0];
  if (!file || positionals.length > 1) fail(USAGE, 2);
  if (v.codec !== 'vp8' && v.codec !== 'h264') fail(`--codec must be vp8 or h264, got "${v.codec}"`, 2);
  if (v.record && v['no-record']) fail('--record and --no-record exclude each other', 2);
  if (v.token && (v.email || v.password)) fail('give --token or --email/--password, not both', 2);
  if (Boolean(v.email) !== Boolean(v.password)) fail('--email and --password go together', 2);
  const budget = positiveNumber(v.budget, 'budget');
  return {
    opts: {
      server: v.server ?? `http://127.0.0.1:${process.env['PORT'] || '8080'}`,
      file,
      codec: v.codec,
      fps: positiveNumber(v.fps, 'fps') ?? 30,
      whip: v.whip,
      model: v.model,
      budgetMs: budget,
      record: v.record ? true : v['no-record'] ? false : undefined,
      durationS: positiveNumber(v.duration, 'duration'),
      ...size(v.size),
    },
    json: v.json,
    frames: v.frames,
    auth: { token: v.token ?? (v.email ? undefined : process.env['LOOKOUT_TOKEN']), email: v.email, password: v.password },
  };
}

/**
 * First Ctrl-C: stop streaming and end the session properly; another one a second later: leave at once.
 * (`npm run` forwards the terminal's SIGINT, so one Ctrl-C can arrive twice in a row.)
 */
function abortOnSignals(): AbortController {
  const ac = new AbortController();
  let first = 0;
  const onSignal = (): void => {
    if (first && performance.now() - first > 1_000) process.exit(130);
    if (first) return;
    first = performance.now();
    console.error('stopping… (Ctrl-C again to quit at once)');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return ac;
}

async function main(): Promise<void> {
  const { opts, json, frames, auth } = parse();
  const token = auth.token ?? (auth.email && auth.password ? await login(opts.server, auth.email, auth.password) : undefined);
  if (!token) fail(`no token: give --token, set LOOKOUT_TOKEN, or give --email and --password\n${USAGE}`, 2);
  const ac = abortOnSignals();
  let sum: StreamSummary;
  try {
    sum = await streamFile({ ...opts, token, signal: ac.signal, onMessage: json ? undefined : printMessage });
  } catch (e) {
    if (e instanceof StreamError) fail(`${e.code}: ${e.message}`, e.code === 'VALIDATION_FAILED' || e.code === 'NOT_FOUND' ? 2 : 1);
    if (ac.signal.aborted) fail('stopped before the server answered', 1);
    fail(`stream failed: ${e instanceof Error ? e.message : String(e)}`, 1);
  }
  if (json) console.log(JSON.stringify(compact(sum, frames), null, 2));
  else printSummary(sum);
  process.exit(sum.ended?.reason === 'stopped' ? 0 : 1);
}

await main();
