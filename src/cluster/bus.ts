/**
 * Messages between servers over Redis pub/sub (ioredis, the client BullMQ already uses): a request to one node
 * with its reply and a timeout, and channels any node may publish to and any node may listen on (a live
 * session's events, for the servers whose clients watch it). Each node listens on one inbox channel for the
 * requests it serves and the replies it waits for. Two connections: one in subscriber mode, one for the rest.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { AppError, isAppError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';

/** What a failed Redis command becomes for the client: try again shortly. */
export function redisUnavailable(err: unknown): AppError {
  if (isAppError(err)) return err;
  return new AppError('UNAVAILABLE', 'The servers cannot reach their shared Redis right now; try again shortly.', { retryAfterS: 5 }, { cause: err });
}

/** Nobody listens on that node's inbox (the server is gone): the request was not delivered, so nothing was done. */
export class Undelivered extends AppError {
  constructor() {
    super('UNAVAILABLE', 'The server running this live session is not reachable; try again.', { retryAfterS: 2 });
  }
}

/** How long a forwarded request waits for its answer by default. */
export const REQUEST_TIMEOUT_MS = 5000;

interface WireError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}
type Wire =
  | { k: 'req'; id: string; from: string; op: string; body: unknown }
  | { k: 'rep'; id: string; ok: true; value: unknown }
  | { k: 'rep'; id: string; ok: false; error: WireError };

type Handler = (body: unknown, from: string) => Promise<unknown>;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

export class ClusterBus {
  /** Commands (and publishing); also lent to the registry, the shared limits and the rate limiters. */
  readonly redis: Redis;
  readonly #sub: Redis;
  readonly #pending = new Map<string, Pending>();
  readonly #handlers = new Map<string, Handler>();
  readonly #channels = new Map<string, (text: string) => void>();
  #closed = false;

  constructor(
    url: string,
    /** Key and channel prefix shared by the servers of one cluster. */
    readonly ns: string,
    readonly nodeId: string,
    private readonly logger: Logger,
  ) {
    // Both connect now and reconnect by themselves. Commands fail after two reconnect attempts (callers turn that
    // into UNAVAILABLE); the subscriber waits for as long as it takes.
    const opts = { maxRetriesPerRequest: 2 } as const;
    this.redis = new Redis(url, opts);
    this.#sub = new Redis(url, { ...opts, maxRetriesPerRequest: null });
    for (const c of [this.redis, this.#sub]) c.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'cluster: redis connection error'));
    this.#sub.on('message', (channel: string, text: string) => this.#onMessage(channel, text));
  }

  inbox(nodeId: string): string {
    return `${this.ns}:inbox:${nodeId}`;
  }

  /** Listens on this node's inbox; resolves once Redis has taken the subscription (ioredis renews it after a reconnect). */
  async start(): Promise<void> {
    await this.#sub.subscribe(this.inbox(this.nodeId));
  }

  /** Serves requests for `op` sent to this node. What the handler throws goes back to the caller as the same AppError. */
  handle(op: string, fn: Handler): void {
    this.#handlers.set(op, fn);
  }

  /**
   * Sends a request to `nodeId` and waits for its answer: the handler's value, or its AppError re-thrown here.
   * UNAVAILABLE when nobody listens on that node's inbox or no answer comes within `timeoutMs`.
   */
  async request<T>(nodeId: string, op: string, body: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    const id = randomUUID();
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new AppError('UNAVAILABLE', 'The server running this live session did not answer in time; try again.', { retryAfterS: 2 }));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    // The answer can arrive (on the subscriber connection) before Redis acknowledges the PUBLISH below, when both
    // sockets are read in one turn of a busy event loop: an error answer must not count as unhandled meanwhile.
    answer.catch(() => undefined);
    const msg: Wire = { k: 'req', id, from: this.nodeId, op, body };
    const receivers = await this.redis.publish(this.inbox(nodeId), JSON.stringify(msg)).catch((err: unknown) => {
      this.#settle(id, undefined, redisUnavailable(err));
      return 1;
    });
    if (receivers === 0) this.#settle(id, undefined, new Undelivered());
    return answer as Promise<T>;
  }

  /** Hands every message published on `channel` to `fn` until `unlisten`. */
  async listen(channel: string, fn: (text: string) => void): Promise<void> {
    const had = this.#channels.has(channel);
    this.#channels.set(channel, fn);
    if (!had) await this.#sub.subscribe(channel);
  }

  async unlisten(channel: string): Promise<void> {
    if (!this.#channels.delete(channel) || this.#closed) return;
    await this.#sub.unsubscribe(channel).catch(() => undefined);
  }

  listening(channel: string): boolean {
    return this.#channels.has(channel);
  }

  /** Publishes without waiting; a failure is logged (events on channels are best effort, like a slow socket's). */
  publish(channel: string, text: string): void {
    this.redis.publish(channel, text).catch((err: unknown) => this.logger.warn({ err, channel }, 'cluster: publish failed'));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const [id] of this.#pending) this.#settle(id, undefined, new AppError('UNAVAILABLE', 'The server is shutting down.', { retryAfterS: 2 }));
    const quit = async (c: Redis): Promise<void> => {
      if (c.status !== 'ready') c.disconnect();
      else await c.quit().catch(() => c.disconnect());
    };
    await Promise.all([quit(this.#sub), quit(this.redis)]);
  }

  #settle(id: string, value: unknown, err?: unknown): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (err !== undefined) p.reject(err);
    else p.resolve(value);
  }

  #onMessage(channel: string, text: string): void {
    const listener = this.#channels.get(channel);
    if (listener) {
      listener(text);
      return;
    }
    let msg: Wire;
    try {
      msg = JSON.parse(text) as Wire;
    } catch {
      this.logger.warn({ channel }, 'cluster: unreadable message');
      return;
    }
    if (msg.k === 'rep') {
      if (msg.ok) this.#settle(msg.id, msg.value);
      else this.#settle(msg.id, undefined, new AppError(msg.error.code, msg.error.message, msg.error.details ?? {}));
      return;
    }
    void this.#serve(msg);
  }

  async #serve(msg: Extract<Wire, { k: 'req' }>): Promise<void> {
    let reply: Wire;
    try {
      const fn = this.#handlers.get(msg.op);
      if (!fn) throw new AppError('INTERNAL', `No handler for cluster request ${msg.op}.`);
      reply = { k: 'rep', id: msg.id, ok: true, value: (await fn(msg.body, msg.from)) ?? null };
    } catch (err) {
      if (!isAppError(err)) this.logger.error({ err, op: msg.op }, 'cluster: serving a forwarded request failed');
      const error: WireError = isAppError(err)
        ? { code: err.code, message: err.message, details: { ...err.details } }
        : { code: 'INTERNAL', message: 'Something went wrong on our side; the error was logged.' };
      reply = { k: 'rep', id: msg.id, ok: false, error };
    }
    if (this.#closed) return;
    this.publish(this.inbox(msg.from), JSON.stringify(reply));
  }
}
