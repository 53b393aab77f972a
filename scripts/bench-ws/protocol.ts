/**
 * What the benchmark's processes (scripts/bench-ws.ts, bench-ws/server.ts, bench-ws/client.ts) say to each
 * other over the child_process IPC channel, the job-event payload, and a small request/reply helper.
 *
 * A request carries an `id`; the child answers with the same `id`. Messages without an `id` are one-way:
 * `ev` messages go child → parent, `allow` goes parent → server.
 */
import type { ChildProcess } from 'node:child_process';

export { WS_PATH } from '../../src/ws/protocol.js';
export const SUBSCRIBE_JOBS = JSON.stringify({ type: 'subscribe', topic: 'jobs' });
export const HUBS = ['uws', 'ws'] as const;
export type HubKind = (typeof HUBS)[number];
export const CLIENT_KINDS = ['raw', 'ws'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

/** Socket `i` authenticates as user `u<i % users>`, so each user has about clients/users sockets. */
export const userOf = (socket: number, users: number): string => `u${socket % users}`;
export const jobsTopic = (userId: string): string => `jobs:${userId}`;

// ---- parent → server ----
export type ServerRequest =
  /** Memory and CPU figures; `gc` runs the collector first (the server runs with --expose-gc). */
  | { id: number; t: 'stats'; gc: boolean }
  /** Sum of the subscriber counts of the `jobs:u0` … `jobs:u<users-1>` topics. */
  | { id: number; t: 'subs'; users: number }
  /** Arms publishing: one job event per publish, topics round-robin over the users; nothing goes out before `allow`. */
  | { id: number; t: 'start'; users: number }
  /** Stops publishing; answers with the final stats. */
  | { id: number; t: 'stop' };
/** Publish until `upTo` events have gone out in total (flow control: the parent raises it as clients catch up). */
export interface AllowCommand {
  t: 'allow';
  upTo: number;
}
export interface ServerStats {
  rss: number;
  heapUsed: number;
  /** Highest RSS seen while publishing (sampled about every 50 ms). */
  maxRss: number;
  /** process.cpuUsage() user + system, µs. */
  cpuUs: number;
  /** process.cpuUsage().system, µs (syscalls; on loopback also the kernel's TCP delivery to the clients). */
  cpuSysUs: number;
  connections: number;
  published: number;
  /** Σ over publishes of the topic's subscriber count: the deliveries the clients should see. */
  expected: number;
  /** Time the publisher waited for `allow` since `start`, ms: high means the clients set the pace. */
  waitedMs: number;
  /** Sends the `ws` hub skipped for backpressure (the uWS hub does not expose its own count). */
  skipped: number;
}
export interface SubsReply {
  subscribers: number;
}

// ---- parent → client ----
export interface ClientConfig {
  host: string;
  port: number;
  /** Sockets from..to-1 (global indices) belong to this process. */
  from: number;
  to: number;
  users: number;
  kind: ClientKind;
  /** Connections being opened at once. */
  concurrency: number;
}
export type ClientRequest = { id: number; t: 'connect' } | { id: number; t: 'cpu' };
export interface ConnectReply {
  ok: number;
  failed: number;
  firstError?: string;
}
export interface CpuReply {
  cpuUs: number;
  rss: number;
}

// ---- child → parent events ----
export interface ReadyEvent {
  ev: 'ready';
  port: number;
}
export interface ProgressEvent {
  ev: 'progress';
  /** Job-event frames received, over all of this process's sockets. */
  received: number;
  /** Other text frames (errors): should stay 0. */
  other: number;
  /** Sockets closed after they had opened: should stay 0. */
  closed: number;
}
export type ChildEvent = ReadyEvent | ProgressEvent;

const JOB_CREATED = new Date(Date.UTC(2025, 0, 1, 12, 0, 0)).toISOString();
const JOB_STARTED = new Date(Date.UTC(2025, 0, 1, 12, 0, 2)).toISOString();

/**
 * A job event as the server sends it (`{type: 'job', job: toPublicJob(row)}` from src/app.ts), a fresh object
 * per publish like the NOTIFY listener builds one: about 320 bytes of JSON.
 */
export function jobEvent(seq: number, user: number): object {
  const id = `0193f0c2-7a4e-7b1c-9d2f-${(user % 1e12).toString(16).padStart(12, '0')}`;
  return {
    type: 'job',
    job: {
      id,
      datasetId: '0193f0c1-1111-7c22-8e33-4a5b6c7d8e9f',
      model: 'blazeface',
      state: 'running',
      progress: { done: seq % 100_000, total: 100_000 },
      tokenCost: 1250.5,
      tokensCharged: (seq % 100_000) / 80,
      createdAt: JOB_CREATED,
      startedAt: JOB_STARTED,
    },
  };
}

/** Parent side of the request/reply channel to one child. */
export class Peer {
  #next = 1;
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #exited: Error | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    onEvent: (e: ChildEvent) => void,
  ) {
    child.on('message', (raw) => {
      const m = raw as { id?: number; error?: string; ev?: string };
      if (typeof m.id === 'number') {
        const w = this.#waiting.get(m.id);
        if (!w) return;
        this.#waiting.delete(m.id);
        if (m.error !== undefined) w.reject(new Error(`${name}: ${m.error}`));
        else w.resolve(m);
      } else if (m.ev) onEvent(raw as ChildEvent);
    });
    child.once('exit', (code, signal) => {
      this.#exited = new Error(`${name} exited (${signal ?? `code ${code}`})`);
      for (const w of this.#waiting.values()) w.reject(this.#exited);
      this.#waiting.clear();
    });
  }

  /** Sends `msg` with a fresh id and resolves with the child's answer. */
  request<T>(msg: { t: string } & Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`${this.name}: no answer to ${msg.t} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ ...msg, id });
    });
  }

  send(msg: object): void {
    if (!this.#exited && this.child.connected) this.child.send(msg);
  }
}

/**
 * Child side: answers each request through `handle`, passes one-way messages to `onCommand`, and exits when
 * the parent goes away (so no child outlives a killed benchmark).
 */
export function serveParent<Req extends { id: number; t: string }>(
  handle: (req: Req) => Promise<object>,
  onCommand: (msg: { t: string } & Record<string, unknown>) => void = () => {},
): void {
  if (!process.send) throw new Error('run me through scripts/bench-ws.ts (I need an IPC channel)');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (raw) => {
    const m = raw as Req | ({ t: string } & Record<string, unknown>);
    if (typeof m.id !== 'number') {
      onCommand(m);
      return;
    }
    const req = m as Req;
    handle(req).then(
      (reply) => process.send?.({ ...reply, id: req.id }),
      (err: unknown) => process.send?.({ id: req.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

export function emit(e: ChildEvent): void {
  process.send?.(e);
}
