/**
 * Server child of scripts/bench-ws.ts: `server.ts uws|ws`. Runs one hub alone in this process (so its RSS is the
 * hub's), listening on 127.0.0.1 on a free port, and publishes job events when the parent allows them.
 *
 * - uws: Lookout's own WsHub (src/ws/hub.ts) on a uWS.App() of its own.
 * - ws:  the same hub on the `ws` package (bench-ws/ws-hub.ts) on a node:http server.
 *
 * Both get the same deps: an authenticateUpgrade that accepts every upgrade as the user named by `?user=`,
 * a `live` that throws (unused), a silent logger, trustProxy false and a jobsSnapshot returning [].
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { User } from '../../src/db/schema.js';
import type { Auth, HttpRequest } from '../../src/http/types.js';
import type { LiveRouter } from '../../src/cluster/router.js';
import type { LiveManager } from '../../src/live/manager.js';
import { createLogger } from '../../src/log.js';
import { emit, jobEvent, jobsTopic, serveParent, type AllowCommand, type HubKind, type ServerRequest, type ServerStats, type SubsReply } from './protocol.js';

interface BenchHub {
  publish(topic: string, message: object): void;
  subscribers(topic: string): number;
  readonly connections: number;
  readonly skipped: number;
}

const kind = process.argv[2] as HubKind;
if (kind !== 'uws' && kind !== 'ws') throw new Error(`usage: server.ts uws|ws [sliceMs] (got ${String(kind)})`);
/** Publishing runs in slices of this many ms with setImmediate between them; 0: one publish per slice. */
const sliceMs = Number(process.argv[3] ?? '5');

const logger = createLogger('silent');
const created = new Date();
const authenticateUpgrade = async (req: HttpRequest): Promise<Auth | null> => {
  const id = req.query.get('user');
  if (!id) return null;
  const user: User = { id, email: `${id}@bench.invalid`, password_hash: '', role: 'user', balance_milli: 0, balance_low_sent: false, created_at: created, disabled_at: null, deleted_at: null, last_login_at: null };
  return { user, sessionId: `bench-${id}`, via: 'bearer' };
};
const deps = {
  authenticateUpgrade,
  live: (): LiveManager => {
    throw new Error('live sessions are not part of this benchmark');
  },
  router: (): LiveRouter => {
    throw new Error('live sessions are not part of this benchmark');
  },
  logger,
  trustProxy: false,
  jobsSnapshot: async (): Promise<unknown[]> => [],
};

async function startUws(): Promise<{ hub: BenchHub; port: number }> {
  // Imported here so that the `ws` server process never loads uWebSockets.js.
  const uWS = (await import('uWebSockets.js')).default;
  const { WsHub } = await import('../../src/ws/hub.js');
  const app = uWS.App();
  const wsHub = new WsHub({ app, ...deps });
  const port = await new Promise<number>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => (socket ? resolve(uWS.us_socket_local_port(socket)) : reject(new Error('uWS could not listen'))));
  });
  const hub: BenchHub = {
    publish: (topic, message) => wsHub.publish(topic, message),
    subscribers: (topic) => app.numSubscribers(topic),
    get connections() {
      return wsHub.connections;
    },
    skipped: 0,
  };
  return { hub, port };
}

async function startWs(): Promise<{ hub: BenchHub; port: number }> {
  const { WsPackageHub } = await import('./ws-hub.js');
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const hub = new WsPackageHub({ server, ...deps });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { hub, port: (server.address() as AddressInfo).port };
}

const { hub, port } = kind === 'uws' ? await startUws() : await startWs();

// ---- publishing, paced by the parent's `allow` ----
let users = 1;
let topics: string[] = [];
let subsPerTopic: number[] = [];
let allowed = 0;
let published = 0;
let expected = 0;
let armed = false;
let pumping = false;
let maxRss = 0;
let lastRssSample = 0;
/** Time the publisher sat waiting for the parent's `allow` (delivery, not the server, was the limit). */
let waitedMs = 0;
let waitingSince: number | undefined;

/**
 * Publishes until `allowed`, in slices of at most `sliceMs` with setImmediate between them so I/O keeps
 * flowing. Within a slice uWS coalesces the messages for each socket into one write; `ws` writes each.
 */
function pump(): void {
  const until = performance.now() + sliceMs;
  while (armed && published < allowed) {
    const u = published % users;
    hub.publish(topics[u]!, jobEvent(published, u));
    expected += subsPerTopic[u]!;
    published++;
    if (performance.now() >= until) break;
  }
  const now = performance.now();
  if (now - lastRssSample > 50) {
    lastRssSample = now;
    maxRss = Math.max(maxRss, process.memoryUsage.rss());
  }
  if (armed && published < allowed) setImmediate(pump);
  else {
    pumping = false;
    if (armed) waitingSince = now;
  }
}

function onAllow(cmd: AllowCommand): void {
  if (cmd.upTo <= allowed) return;
  allowed = cmd.upTo;
  if (waitingSince !== undefined) {
    waitedMs += performance.now() - waitingSince;
    waitingSince = undefined;
  }
  if (armed && !pumping) {
    pumping = true;
    setImmediate(pump);
  }
}

function stats(): ServerStats {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    maxRss: Math.max(maxRss, mem.rss),
    cpuUs: cpu.user + cpu.system,
    cpuSysUs: cpu.system,
    connections: hub.connections,
    published,
    expected,
    skipped: hub.skipped,
    waitedMs: waitedMs + (waitingSince === undefined ? 0 : performance.now() - waitingSince),
  };
}

const gc = (globalThis as { gc?: () => void }).gc;

serveParent<ServerRequest>(
  async (req) => {
    switch (req.t) {
      case 'stats':
        if (req.gc && gc) {
          gc();
          await new Promise((r) => setTimeout(r, 50));
          gc();
        }
        return stats();
      case 'subs': {
        let subscribers = 0;
        for (let u = 0; u < req.users; u++) subscribers += hub.subscribers(jobsTopic(`u${u}`));
        return { subscribers } satisfies SubsReply;
      }
      case 'start':
        users = req.users;
        topics = Array.from({ length: users }, (_, u) => jobsTopic(`u${u}`));
        subsPerTopic = topics.map((t) => hub.subscribers(t));
        maxRss = process.memoryUsage.rss();
        armed = true;
        return stats();
      case 'stop': {
        const final = stats();
        armed = false;
        waitingSince = undefined;
        return final;
      }
    }
  },
  (cmd) => {
    if (cmd.t === 'allow') onAllow(cmd as unknown as AllowCommand);
  },
);
emit({ ev: 'ready', port });
