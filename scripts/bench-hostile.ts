/**
 * `npm run bench:hostile`
 *
 * How long one hostile request or message holds everybody else up. Starts Lookout as a process of its own (a
 * temporary DATA_DIR, its embedded PostgreSQL or DATABASE_URL), then for each attack probes `GET /api/v1/models`
 * every 5 ms from this process while the attack runs, and prints the probes' worst and p99 latency next to the
 * same figures with no attack. The attacks are those of the hostile review: a WHIP PATCH of 12,000 ICE
 * candidates, the largest PATCH accepted (32), 6,000 live.ice messages on one WebSocket, 500 `subscribe`
 * messages, and an 8 MiB JSON body.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RTCPeerConnection, useVP8 } from 'werift';
import WebSocket from 'ws';
import { Worker } from 'node:worker_threads';
import { repoRoot } from './lib/repo-root.js';

const root = repoRoot();
const tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-bench-hostile-'));
await chmod(tmp, 0o711);
const port = 20000 + Math.floor(Math.random() * 20000);
const url = `http://127.0.0.1:${port}`;
const server = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts')], {
  cwd: root,
  env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: path.join(tmp, 'data'), RECORDINGS_DIR: path.join(tmp, 'rec'), LOG_LEVEL: 'warn', PRELOAD_MODELS: 'true', INITIAL_TOKENS: '1000', LIVE_IDLE_TIMEOUT_S: '120' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const stop = async (): Promise<void> => {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await rm(tmp, { recursive: true, force: true });
};

try {
  for (let i = 0; ; i++) {
    if ((await fetch(`${url}/api/v1/health`).then((r) => r.status, () => 0)) === 200) break;
    if (i > 600) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  const json = { 'content-type': 'application/json' };
  await fetch(`${url}/api/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ email: 'bench@example.com', password: 'bench password' }) });
  const { token } = (await (await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email: 'bench@example.com', password: 'bench password' }) })).json()) as { token: string };
  const auth = { authorization: `Bearer ${token}` };

  const offer = async (): Promise<string> => {
    const pc = new RTCPeerConnection({ iceServers: [], codecs: { video: [useVP8()] } });
    pc.addTransceiver('video', { direction: 'sendonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const sdp = pc.localDescription!.sdp.replace(/^a=(?:candidate:.*|end-of-candidates)\r\n/gm, '');
    await pc.close();
    return sdp;
  };
  const whip = async (): Promise<string> => {
    const r = await fetch(`${url}/api/v1/whip?model=blazeface&record=false`, { method: 'POST', headers: { ...auth, 'content-type': 'application/sdp' }, body: await offer() });
    if (r.status !== 201) throw new Error(`WHIP: ${r.status} ${await r.text()}`);
    return r.headers.get('location')!;
  };
  const candidates = (n: number): string =>
    ['a=mid:0', ...Array.from({ length: n }, (_, i) => `a=candidate:${i} 1 udp ${2122260223 - i} 127.0.0.1 ${10000 + (i % 50000)} typ host`), ''].join('\r\n');
  // Bodies are built before the probes start: this process also probes, and its own work must not count.
  const bodies = new Map([12_000, 32].map((n) => [n, candidates(n)]));
  const patch = async (location: string, n: number): Promise<string> => {
    const r = await fetch(url + location, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/trickle-ice-sdpfrag' }, body: bodies.get(n)! });
    return r.status === 204 ? '204' : `${r.status} ${((await r.json()) as { error: { code: string } }).error.code}`;
  };
  const bigJson = JSON.stringify({ email: 'x@example.com', password: 'p'.repeat(8 << 20) });
  const socket = async (): Promise<WebSocket> => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/ws`, { headers: auth });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return ws;
  };

  /**
   * Probes GET /models every 5 ms from a worker thread (its own event loop, so this thread's attack work does not
   * count) while `attack` runs, and 100 ms after; returns the probes' worst and p99 latency in ms.
   */
  /** The server's own worst event-loop delay since the last scrape (prom-client's monitorEventLoopDelay, 10 ms resolution). */
  const loopMax = async (): Promise<number> => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(/^lookout_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1] ?? NaN) * 1000;
  };
  const probe = async (attack: () => Promise<string>): Promise<{ outcome: string; max: number; p99: number; n: number; loop: number }> => {
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const lat = []; let running = true;
       parentPort.on('message', () => { running = false; });
       (async () => {
         await fetch(workerData + '/api/v1/models').then((r) => r.arrayBuffer()); // warm: the first fetch loads undici
         parentPort.postMessage('ready');
         while (running) {
           const t = performance.now();
           await fetch(workerData + '/api/v1/models').then((r) => r.arrayBuffer());
           lat.push(performance.now() - t);
           await new Promise((r) => setTimeout(r, 5));
         }
         parentPort.postMessage(lat);
       })();`,
      { eval: true, workerData: url },
    );
    await new Promise((r) => worker.once('message', r)); // ready
    await loopMax(); // resets the server's histogram
    const outcome = await attack();
    await new Promise((r) => setTimeout(r, 100));
    const done = new Promise<number[]>((resolve) => worker.once('message', resolve));
    worker.postMessage('stop');
    const lat = (await done).sort((a, b) => a - b);
    await worker.terminate();
    const loop = await loopMax();
    return { outcome, max: lat.at(-1) ?? 0, p99: lat[Math.floor(lat.length * 0.99)] ?? 0, n: lat.length, loop };
  };

  const location1 = await whip();
  const iceMessages = Array.from({ length: 6000 }, (_, i) => JSON.stringify({ type: 'live.ice', sessionId: location1.split('/').at(-1)!, candidate: `candidate:${i} 1 udp 1 127.0.0.1 ${10000 + i} typ host` }));
  const cases: Array<[string, () => Promise<string>]> = [
    ['no attack (500 ms)', async () => (await new Promise((r) => setTimeout(r, 500)), '-')],
    ['WHIP PATCH, 12,000 candidates', async () => patch(location1, 12_000)],
    ['WHIP PATCH, 32 candidates (largest accepted)', async () => patch(location1, 32)],
    ['6,000 live.ice on one WebSocket', async () => {
      const ws = await socket();
      let errors = 0;
      ws.on('message', () => errors++);
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      for (const m of iceMessages) ws.send(m);
      const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(0), 3000))]);
      ws.terminate();
      return `${errors} errors, closed ${code || 'no'}`;
    }],
    ['500 subscribe jobs on one WebSocket', async () => {
      const ws = await socket();
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      const subscribe = JSON.stringify({ type: 'subscribe', topic: 'jobs' });
      for (let i = 0; i < 500; i++) ws.send(subscribe);
      const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(0), 3000))]);
      ws.terminate();
      return `closed ${code || 'no'}`;
    }],
    ['8 MiB JSON body', async () => String((await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: json, body: bigJson })).status)],
  ];
  console.log('| attack | answer | server event-loop delay, max | probes | worst GET /models | p99 |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, attack] of cases) {
    const r = await probe(attack);
    console.log(`| ${name} | ${r.outcome} | ${r.loop.toFixed(1)} ms | ${r.n} | ${r.max.toFixed(1)} ms | ${r.p99.toFixed(1)} ms |`);
    await new Promise((res) => setTimeout(res, 11_000)); // let the per-session trickle window pass
  }
} finally {
  await stop();
}
