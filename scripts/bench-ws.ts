/**
 * `npm run bench:ws [-- --clients 1000,10000 --seconds 5 --hubs uws,ws --scenarios broadcast,per-user --slice-ms 5]`
 *
 * Job-status fan-out over WebSockets on loopback: Lookout's own hub (src/ws/hub.ts, uWebSockets.js) side by
 * side with the same hub built on the `ws` package (scripts/bench-ws/ws-hub.ts), in one run. Prints figures,
 * asserts nothing; JSON goes to bench/results/ws-<time>.json.
 *
 * Every case (hub × scenario × client count) gets fresh processes: one server child running the hub alone
 * (so its RSS is the hub's) and `--client-procs` client children (default 2) sharing the sockets, all forked
 * with IPC. Steps:
 * 1. Server baseline RSS (after gc) once it listens.
 * 2. Connect: every client socket upgrades (`?user=u<i % users>`, accepted by a stub authenticateUpgrade) and
 *    sends `{"type":"subscribe","topic":"jobs"}`; connect time runs until the server's subscriber count over
 *    the `jobs:<user>` topics equals the sockets that opened. RSS per connection = (RSS after gc − baseline) / N.
 * 3. Publish for `--seconds`: the server publishes job events (`{"type":"job","job":{…}}`, ~320 bytes, a fresh
 *    object per publish, JSON-encoded once by the hub) round-robin over the users' topics, as fast as the
 *    parent allows: flow control keeps every client process within `--window` messages per socket of what
 *    was published (auto: 64 MiB in flight spread over the sockets, 16…1,024 messages each), i.e. the highest
 *    rate at which delivery does not fall behind, far below the 1 MiB backpressure limit, so nothing should
 *    be dropped. Clients count frames and report every 5 ms.
 *    delivered msg/s = frames received by all clients per second, measured after a warm-up (20 % of the
 *    time, at most 1 s) until publishing stops; publishes/s = delivered/s ÷ sockets per topic.
 * 4. Drain until every expected frame arrived (or 3 s without progress): drop % = 1 − received / expected.
 *    Server / client CPU % are process CPU time over the measured interval (100 % = one core); server µs/1k
 *    msgs = server CPU time per 1,000 delivered messages, the hub's cost whatever limits the rate; pub wait %
 *    = time the publisher sat waiting for flow control (above 0: the clients set the pace).
 *
 * Publishing runs in `--slice-ms` (5) slices with setImmediate between them, so a burst of events leaves in
 * one event-loop turn. uWS coalesces a turn's messages per socket into one write (`ws` writes each one), which
 * is most of its lead when several events for the same socket share a turn (broadcast; per-user with few
 * users). `--slice-ms 0` publishes one event per turn: the cost of isolated events, no coalescing possible.
 *
 * Scenarios: `broadcast` — every socket is the same user, one publish goes to all N sockets (one busy topic);
 * `per-user` — N / `--sockets-per-user` users (10 sockets each), each publish is one user's job event.
 *
 * Server and clients share the machine's cores (2 on the reference machine), so delivered/s is what the whole
 * loopback setup sustains; read it with server CPU % and server µs/1k msgs (the clients are lean: see
 * bench-ws/client.ts). The server's baseline RSS includes the tsx loader (~30 MiB more than the built .js); RSS per
 * connection does not. 10,000 sockets need ~10,000 fds in the server and 10,000 / client-procs in each client
 * process (`ulimit -n`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CLIENT_KINDS,
  HUBS,
  jobEvent,
  Peer,
  type ChildEvent,
  type ClientConfig,
  type ClientKind,
  type ConnectReply,
  type CpuReply,
  type HubKind,
  type ServerStats,
  type SubsReply,
} from './bench-ws/protocol.js';
import { repoRoot } from './lib/repo-root.js';

const SCENARIOS = ['broadcast', 'per-user'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000,10000' },
    seconds: { type: 'string', default: '5' },
    hubs: { type: 'string', default: HUBS.join(',') },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    'sockets-per-user': { type: 'string', default: '10' },
    'client-procs': { type: 'string', default: '2' },
    client: { type: 'string', default: 'raw' },
    window: { type: 'string', default: 'auto' },
    'slice-ms': { type: 'string', default: '5' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: tsx scripts/bench-ws.ts [--clients 1000,10000] [--seconds 5] [--hubs uws,ws] [--scenarios broadcast,per-user]\n' +
      '                               [--sockets-per-user 10] [--client-procs 2] [--client raw|ws] [--window auto|N] [--slice-ms 5]',
  );
  process.exit(0);
}

function list<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of items) if (!(allowed as readonly string[]).includes(s)) throw new Error(`--${flag}: ${s}? expected ${allowed.join(', ')}`);
  return items as T[];
}
function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} wants a positive number, got ${value}`);
  return n;
}
const clientCounts = values.clients.split(',').map((s) => Math.floor(positive('clients', s)));
const seconds = positive('seconds', values.seconds);
const hubs = list('hubs', values.hubs, HUBS);
const scenarios = list('scenarios', values.scenarios, SCENARIOS);
const socketsPerUser = Math.floor(positive('sockets-per-user', values['sockets-per-user']));
const clientProcs = Math.floor(positive('client-procs', values['client-procs']));
const clientKind = list('client', values.client, CLIENT_KINDS)[0] as ClientKind;
const windowFlag = values.window === 'auto' ? undefined : Math.floor(positive('window', values.window));
const JOB_EVENT_BYTES = Buffer.byteLength(JSON.stringify(jobEvent(12_345, 123)));
/**
 * Messages per socket the publisher may run ahead of the slowest client process: `auto` spreads 64 MiB of
 * frames in flight over the sockets (1,000 sockets: ~200 messages; 10,000: ~20, several hundred ms of
 * delivery either way, far above the ~10 ms control loop), between 16 and 1,024 (~330 KiB, below the hub's
 * 1 MiB backpressure limit).
 */
const windowFor = (n: number): number => windowFlag ?? Math.min(1024, Math.max(16, Math.floor((64 * 1024 * 1024) / (n * (JOB_EVENT_BYTES + 4)))));
const sliceMs = Number(values['slice-ms']);
if (!(sliceMs >= 0)) throw new Error(`--slice-ms wants a number ≥ 0, got ${values['slice-ms']}`);
const CONNECT_CONCURRENCY = 128; // per client process; 2 × 128 stays under the listen backlog (511/512)
const HOST = '127.0.0.1';

// ---- child processes: every one is killed on the way out, whatever the way ----
const children = new Set<ChildProcess>();
const EXT = extname(fileURLToPath(import.meta.url)); // .ts under tsx, .js when built
function forkChild(module: 'server' | 'client', args: string[]): ChildProcess {
  const file = fileURLToPath(new URL(`./bench-ws/${module}${EXT}`, import.meta.url));
  const execArgv = [...(EXT === '.ts' ? ['--import', 'tsx'] : []), '--expose-gc'];
  const child = fork(file, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}
async function stop(peers: Peer[]): Promise<void> {
  await Promise.all(
    peers.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
          p.child.once('exit', () => resolve());
          p.child.kill('SIGKILL');
        }),
    ),
  );
}

function started(name: string, child: ChildProcess, onEvent: (e: ChildEvent) => void = () => {}): Promise<{ peer: Peer; port: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 30 s`)), 30_000);
    const peer = new Peer(name, child, (e) => {
      if (e.ev === 'ready') {
        clearTimeout(timer);
        resolve({ peer, port: e.port });
      } else onEvent(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before it was ready (${signal ?? `code ${code}`})`));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

interface CaseResult {
  hub: HubKind;
  window: number;
  scenario: Scenario;
  clients: number;
  connected: number;
  failed: number;
  users: number;
  socketsPerTopic: number;
  connectS: number;
  rssBaselineMiB: number;
  rssConnectedMiB: number;
  rssPerConnKiB: number;
  rssPeakMiB: number;
  measuredS: number;
  publishesPerS: number;
  deliveredPerS: number;
  published: number;
  expected: number;
  received: number;
  dropPct: number;
  otherFrames: number;
  closedSockets: number;
  wsHubSkipped: number;
  serverCpuPct: number;
  serverSysCpuPct: number;
  /** Server CPU time per 1,000 delivered messages, µs: the hub's cost, whatever limits the rate. */
  serverCpuUsPer1k: number;
  /** Share of the measured time the publisher waited for flow control: ~0 = the server is the limit. */
  publisherWaitPct: number;
  clientCpuPct: number;
  clientRssMiB: number;
}

async function runCase(hub: HubKind, scenario: Scenario, n: number): Promise<CaseResult> {
  const users = scenario === 'broadcast' ? 1 : Math.max(1, Math.ceil(n / socketsPerUser));
  const procs = Math.min(clientProcs, n);
  const peers: Peer[] = [];
  try {
    const { peer: server, port } = await started(`${hub} server`, forkChild('server', [hub, String(sliceMs)]));
    peers.push(server);
    await sleep(300);
    const base = await server.request<ServerStats>({ t: 'stats', gc: true });

    // Client processes, each with a contiguous share of the sockets.
    const received: number[] = new Array<number>(procs).fill(0);
    const sockets: number[] = [];
    let other = 0;
    let closedSockets = 0;
    let onProgress = (): void => {};
    const clientPeers = await Promise.all(
      Array.from({ length: procs }, (_, p) => {
        const from = Math.floor((n * p) / procs);
        const to = Math.floor((n * (p + 1)) / procs);
        sockets[p] = to - from;
        const cfg: ClientConfig = { host: HOST, port, from, to, users, kind: clientKind, concurrency: CONNECT_CONCURRENCY };
        const latest = { other: 0, closed: 0 };
        return started(`client ${p + 1}/${procs}`, forkChild('client', [JSON.stringify(cfg)]), (e) => {
          if (e.ev !== 'progress') return;
          received[p] = e.received;
          other += e.other - latest.other;
          closedSockets += e.closed - latest.closed;
          latest.other = e.other;
          latest.closed = e.closed;
          onProgress();
        }).then(({ peer }) => peer);
      }),
    );
    peers.push(...clientPeers);

    const t0 = performance.now();
    const conns = await Promise.all(clientPeers.map((c) => c.request<ConnectReply>({ t: 'connect' }, 300_000)));
    const connected = conns.reduce((s, c) => s + c.ok, 0);
    const failed = conns.reduce((s, c) => s + c.failed, 0);
    if (connected === 0) throw new Error(`no client connected: ${conns.find((c) => c.firstError)?.firstError ?? '?'}`);
    for (let waited = 0; ; waited += 20) {
      const { subscribers } = await server.request<SubsReply>({ t: 'subs', users });
      if (subscribers >= connected) break;
      if (waited > 60_000) throw new Error(`only ${subscribers} of ${connected} sockets subscribed after 60 s`);
      await sleep(20);
    }
    const connectS = (performance.now() - t0) / 1000;
    if (failed > 0) console.warn(`  ${hub} ${scenario} ${n}: ${failed} sockets failed to connect (${conns.find((c) => c.firstError)?.firstError ?? '?'})`);
    await sleep(500);
    const after = await server.request<ServerStats>({ t: 'stats', gc: true });

    // Publishing, paced: allow publishes while the slowest client process is within `window` messages/socket.
    const perTopic = connected / users;
    const window = windowFor(n);
    const totalReceived = (): number => received.reduce((s, r) => s + r, 0);
    let lastAllow = 0;
    onProgress = () => {
      let minPerSocket = Infinity;
      for (let p = 0; p < procs; p++) if (sockets[p]! > 0) minPerSocket = Math.min(minPerSocket, received[p]! / sockets[p]!);
      // Each socket gets 1/users of the publishes: a lag of `window` messages per socket is window × users publishes.
      const allow = Math.floor((minPerSocket + window) * users);
      if (allow > lastAllow) {
        lastAllow = allow;
        server.send({ t: 'allow', upTo: allow });
      }
    };
    await server.request<ServerStats>({ t: 'start', users });
    const warmMs = Math.min(1000, seconds * 200);
    onProgress();
    await sleep(warmMs);
    const [warmServer, warmClients] = await Promise.all([server.request<ServerStats>({ t: 'stats', gc: false }), Promise.all(clientPeers.map((c) => c.request<CpuReply>({ t: 'cpu' })))]);
    const warmReceived = totalReceived();
    const tWarm = performance.now();
    await sleep(seconds * 1000 - warmMs);
    const [end, endClients] = await Promise.all([server.request<ServerStats>({ t: 'stop' }), Promise.all(clientPeers.map((c) => c.request<CpuReply>({ t: 'cpu' })))]);
    const endReceived = totalReceived();
    const measuredS = (performance.now() - tWarm) / 1000;

    // Drain: wait for the frames still in flight.
    let lastSeen = -1;
    let still = performance.now();
    while (totalReceived() < end.expected && performance.now() - still < 3000) {
      await sleep(20);
      if (totalReceived() !== lastSeen) {
        lastSeen = totalReceived();
        still = performance.now();
      }
    }
    await sleep(100); // late `other` / `closed` reports
    const finalReceived = totalReceived();
    const deliveredPerS = (endReceived - warmReceived) / measuredS;
    const final = await server.request<ServerStats>({ t: 'stats', gc: false });
    const cpuSum = (xs: CpuReply[]): number => xs.reduce((s, x) => s + x.cpuUs, 0);
    return {
      hub,
      window,
      scenario,
      clients: n,
      connected,
      failed,
      users,
      socketsPerTopic: round(perTopic, 2),
      connectS: round(connectS, 2),
      rssBaselineMiB: round(base.rss / MiB),
      rssConnectedMiB: round(after.rss / MiB),
      rssPerConnKiB: round((after.rss - base.rss) / connected / 1024, 2),
      rssPeakMiB: round(final.maxRss / MiB),
      measuredS: round(measuredS, 2),
      publishesPerS: Math.round(deliveredPerS / perTopic),
      deliveredPerS: Math.round(deliveredPerS),
      published: end.published,
      expected: end.expected,
      received: finalReceived,
      dropPct: end.expected > 0 ? round((100 * Math.max(0, end.expected - finalReceived)) / end.expected, 3) : 0,
      otherFrames: other,
      closedSockets,
      wsHubSkipped: final.skipped,
      serverCpuPct: Math.round((end.cpuUs - warmServer.cpuUs) / 1e4 / measuredS),
      serverSysCpuPct: Math.round((end.cpuSysUs - warmServer.cpuSysUs) / 1e4 / measuredS),
      serverCpuUsPer1k: Math.round(((end.cpuUs - warmServer.cpuUs) / Math.max(1, endReceived - warmReceived)) * 1000),
      publisherWaitPct: Math.round((end.waitedMs - warmServer.waitedMs) / 10 / measuredS),
      clientCpuPct: Math.round((cpuSum(endClients) - cpuSum(warmClients)) / 1e4 / measuredS),
      clientRssMiB: round(endClients.reduce((s, c) => s + c.rss, 0) / MiB),
    };
  } finally {
    await stop(peers.reverse()); // clients first, then the server
  }
}

// ---- table ----
const COLUMNS: [string, (r: CaseResult) => string][] = [
  ['hub', (r) => r.hub],
  ['scenario', (r) => r.scenario],
  ['clients', (r) => r.connected.toLocaleString('en-US') + (r.failed ? ` (${r.failed} failed)` : '')],
  ['sockets/topic', (r) => String(r.socketsPerTopic)],
  ['publishes/s', (r) => r.publishesPerS.toLocaleString('en-US')],
  ['delivered msg/s', (r) => r.deliveredPerS.toLocaleString('en-US')],
  ['drop %', (r) => r.dropPct.toFixed(2)],
  ['server CPU % (sys)', (r) => `${r.serverCpuPct} (${r.serverSysCpuPct})`],
  ['server µs/1k msgs', (r) => r.serverCpuUsPer1k.toLocaleString('en-US')],
  ['clients CPU %', (r) => String(r.clientCpuPct)],
  ['pub wait %', (r) => String(r.publisherWaitPct)],
  ['RSS base MiB', (r) => r.rssBaselineMiB.toFixed(1)],
  ['RSS/conn KiB', (r) => r.rssPerConnKiB.toFixed(2)],
  ['RSS peak MiB', (r) => r.rssPeakMiB.toFixed(1)],
  ['connect s', (r) => r.connectS.toFixed(2)],
];
function table(rows: CaseResult[]): string {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, f]) => f(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((s, i) => (i < 2 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

// ---- run ----
const cpus = os.cpus();
console.log(
  `bench:ws: job-event fan-out on loopback, ${hubs.join(' vs ')}; ${clientCounts.join(', ')} clients; ${scenarios.join(', ')} ` +
    `(per-user: ${socketsPerUser} sockets per user); ${seconds} s publishing per case; ${clientKind} clients in ${clientProcs} processes; ` +
    `publishing in ${sliceMs} ms slices; window ${windowFlag ?? 'auto'} msgs/socket (${clientCounts.map((n) => `${n}: ${windowFor(n)}`).join(', ')}); job event ${JOB_EVENT_BYTES} B; ${cpus.length} × ${cpus[0]?.model ?? '?'}, Node ${process.version}`,
);
const results: CaseResult[] = [];
const errors: { hub: HubKind; scenario: Scenario; clients: number; error: string }[] = [];
for (const n of clientCounts) {
  for (const scenario of scenarios) {
    for (const hub of hubs) {
      process.stdout.write(`  ${hub} ${scenario} ${n} … `);
      try {
        const r = await runCase(hub, scenario, n);
        results.push(r);
        console.log(
          `${r.deliveredPerS.toLocaleString('en-US')} msg/s delivered, drop ${r.dropPct}%, server CPU ${r.serverCpuPct}%, ${r.rssPerConnKiB} KiB/conn, connect ${r.connectS} s`,
        );
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        errors.push({ hub, scenario, clients: n, error });
        console.log(`failed: ${error}`);
      }
    }
  }
}

console.log('\n' + table(results));
console.log(
  '\ndelivered msg/s: job-event frames received by all clients per second while the publisher keeps each socket within ' +
    'a window of messages of what was published (flow-controlled, steady state after warm-up).\n' +
    'drop %: frames published but never received (slow-consumer skips). CPU %: 100 = one core (sys: in the kernel); server µs/1k msgs: ' +
    'server CPU time per 1,000 delivered messages. pub wait %: time the publisher waited for slow clients (0: it never did, ' +
    'so the CPUs shared by server and clients set the rate). RSS/conn: server RSS growth after ' +
    'connect + subscribe, after gc, divided by the connected sockets. connect s: first connect → all subscribed.',
);
for (const r of results) {
  if (r.otherFrames || r.closedSockets || r.wsHubSkipped) {
    console.log(`note: ${r.hub} ${r.scenario} ${r.clients}: ${r.otherFrames} non-job frames, ${r.closedSockets} sockets closed, ${r.wsHubSkipped} ws-hub skips`);
  }
}
for (const e of errors) console.log(`error: ${e.hub} ${e.scenario} ${e.clients}: ${e.error}`);

const root = repoRoot();
await mkdir(join(root, 'bench/results'), { recursive: true });
const file = join(root, 'bench/results', `ws-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
await writeFile(
  file,
  JSON.stringify(
    {
      at: new Date().toISOString(),
      machine: { cpus: cpus.length, cpu: cpus[0]?.model, memGiB: round(os.totalmem() / 1024 ** 3), node: process.version, platform: `${os.platform()} ${os.release()}` },
      options: { clients: clientCounts, seconds, hubs, scenarios, socketsPerUser, clientProcs, client: clientKind, window: windowFlag ?? 'auto', sliceMs, jobEventBytes: JOB_EVENT_BYTES },
      results,
      errors,
    },
    null,
    2,
  ) + '\n',
);
console.log(`written ${file}`);
process.exitCode = errors.length > 0 ? 1 : 0;
