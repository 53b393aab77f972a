/**
 * Any server answers for any live session. A request for a session running here goes straight to the live
 * manager; one for a session another server owns (the owner is in Redis, `<ns>:owner:<id>`) is forwarded to it
 * over the bus and its answer, or its error, comes back as if it were local. Watching a session another server
 * runs (`subscribe live:<id>`) relays its events through a Redis channel that the owner publishes to only while
 * someone elsewhere watches. Without a bus (one process) only the local path exists, as before.
 */
import { AppError } from '../errors.js';
import type { LiveManager } from '../live/manager.js';
import type { LiveEvent } from '../live/messages.js';
import type { LiveSession } from '../live/session.js';
import type { Metrics } from '../metrics.js';
import { redisUnavailable, Undelivered, type ClusterBus } from './bus.js';

/** How many sessions' owners a server remembers: a few hundred bytes each. */
const OWNERS_REMEMBERED = 10_000;

const notFound = (): AppError => new AppError('NOT_FOUND', 'Live session not found (or it has ended).');

/** What the owner is asked to do; the body always names the user, and the owner checks the session is theirs. */
type Op = 'stop' | 'ice' | 'configure' | 'watch';
interface OpBody {
  sessionId: string;
  userId: string;
  candidates?: unknown[];
  changes?: Record<string, unknown>;
}

export interface RouterDeps {
  readonly live: LiveManager;
  /** Absent: one process, every session is local. */
  readonly bus?: ClusterBus;
  readonly metrics?: Metrics;
  /** Sends a relayed event's JSON text to this server's watchers of the session (the WebSocket hub). */
  readonly deliver: (sessionId: string, text: string) => void;
}

export class LiveRouter {
  readonly #d: RouterDeps;
  /** Sessions running here that someone on another server watches: their events also go to Redis. */
  readonly #watched = new Set<string>();
  /** Owners of sessions elsewhere, as looked up (at most OWNERS_REMEMBERED, the oldest forgotten first). */
  readonly #owners = new Map<string, string>();

  constructor(deps: RouterDeps) {
    this.#d = deps;
    const bus = deps.bus;
    if (!bus) return;
    for (const op of ['stop', 'ice', 'configure', 'watch'] as const) {
      bus.handle(`live.${op}`, async (body) => {
        deps.metrics?.clusterServed.inc({ op });
        return this.#local(op, body as OpBody, true);
      });
    }
  }

  #ownerKey(id: string): string {
    return `${this.#d.bus!.ns}:owner:${id}`;
  }

  #channel(id: string): string {
    return `${this.#d.bus!.ns}:live:${id}`;
  }

  /** Cluster ownership of the sessions this server starts and ends (LiveManager's lifecycle hooks). */
  readonly lifecycle = {
    started: async (s: LiveSession): Promise<void> => {
      if (this.#d.bus) await this.#d.bus.redis.set(this.#ownerKey(s.id), this.#d.bus.nodeId);
    },
    ended: (s: LiveSession): void => {
      this.#watched.delete(s.id);
      if (this.#d.bus) void this.#d.bus.redis.del(this.#ownerKey(s.id)).catch(() => undefined);
    },
  };

  /** A session's event, published here by its session: to other servers too when someone there watches it. */
  relay(sessionId: string, event: LiveEvent | Record<string, unknown>): void {
    if (this.#watched.has(sessionId)) this.#d.bus!.publish(this.#channel(sessionId), JSON.stringify(event));
  }

  stop(id: unknown, userId: string): Promise<void> {
    return this.#route('stop', { sessionId: sessionIdOf(id), userId }) as Promise<void>;
  }

  ice(id: unknown, userId: string, candidates: unknown[]): Promise<void> {
    return this.#route('ice', { sessionId: sessionIdOf(id), userId, candidates }) as Promise<void>;
  }

  configure(id: unknown, userId: string, changes: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.#route('configure', { sessionId: sessionIdOf(id), userId, changes }) as Promise<Record<string, unknown>>;
  }

  /**
   * Checks that `userId` may watch the session and returns its current `live.stats` message; the caller then
   * subscribes its socket to `live:<id>`. For a session elsewhere, its events start arriving on this server's
   * topic (listening starts before the owner is asked, so nothing sent in between is lost).
   */
  async watch(id: unknown, userId: string): Promise<Record<string, unknown>> {
    const sessionId = sessionIdOf(id);
    const { bus } = this.#d;
    if (!bus || this.#d.live.has(sessionId)) return this.#local('watch', { sessionId, userId });
    const owner = await this.#owner(sessionId);
    const channel = this.#channel(sessionId);
    const fresh = !bus.listening(channel);
    if (fresh) {
      await bus.listen(channel, (text) => {
        this.#d.deliver(sessionId, text);
        if (!text.startsWith('{"type":"live.ended"')) return;
        this.#owners.delete(sessionId);
        void bus.unlisten(channel);
      });
    }
    try {
      return await this.#forward(owner, 'watch', { sessionId, userId });
    } catch (err) {
      if (fresh) await bus.unlisten(channel);
      throw err;
    }
  }

  /** Tells this server's watchers of a session another server ended (a lost server's, ended by this one). */
  publishEnded(sessionId: string, event: Record<string, unknown>): void {
    if (!this.#d.bus) return;
    this.#d.bus.publish(this.#channel(sessionId), JSON.stringify(event));
    this.#owners.delete(sessionId);
    void this.#d.bus.redis.del(this.#ownerKey(sessionId)).catch(() => undefined);
  }

  async #route(op: Op, body: OpBody): Promise<unknown> {
    if (!this.#d.bus || this.#d.live.has(body.sessionId)) return this.#local(op, body);
    return this.#forward(await this.#owner(body.sessionId), op, body);
  }

  /**
   * The node that runs a session: remembered after the first lookup, since a session never moves (a lost
   * server's sessions are ended, not taken over), which saves a Redis round trip on every forwarded request. An
   * owner that is gone or does not answer is forgotten by #forward, and a session whose live.ended passes by here.
   */
  async #owner(sessionId: string): Promise<string> {
    const known = this.#owners.get(sessionId);
    if (known) return known;
    const owner = await this.#d.bus!.redis.get(this.#ownerKey(sessionId)).catch((err: unknown) => {
      throw redisUnavailable(err);
    });
    if (!owner || owner === this.#d.bus!.nodeId) throw notFound(); // ours would be in the manager
    if (this.#owners.size >= OWNERS_REMEMBERED) this.#owners.delete(this.#owners.keys().next().value!);
    this.#owners.set(sessionId, owner);
    return owner;
  }

  async #forward<T>(owner: string, op: Op, body: OpBody, again = true): Promise<T> {
    this.#d.metrics?.clusterForwarded.inc({ op });
    try {
      return await this.#d.bus!.request<T>(owner, `live.${op}`, body);
    } catch (err) {
      // NOT_FOUND and the like are the owner's answer. UNAVAILABLE: that server is gone or slow, so forget it; when
      // it is gone (nobody took the request, so nothing was done), a remembered owner may be stale: ask Redis
      // afresh, once. A timeout is not retried (the request may have run).
      if (!(err instanceof AppError) || err.code !== 'UNAVAILABLE') throw err;
      const wasKnown = this.#owners.get(body.sessionId) === owner;
      this.#owners.delete(body.sessionId);
      if (!wasKnown || !again || !(err instanceof Undelivered)) throw err;
      return this.#forward<T>(await this.#owner(body.sessionId), op, body, false);
    }
  }

  /** Does `op` on a session of this server (NOT_FOUND when it is not here or not the user's); `remote`: asked by another server. */
  async #local<T>(op: Op, body: OpBody, remote = false): Promise<T> {
    const session = this.#d.live.get(body.sessionId, body.userId);
    switch (op) {
      case 'stop':
        await session.end('stopped');
        return undefined as T;
      case 'ice':
        await session.addIceCandidates(Array.isArray(body.candidates) ? body.candidates : []);
        return undefined as T;
      case 'configure':
        return (await session.configure(body.changes ?? {})) as T;
      case 'watch':
        if (remote) this.#watched.add(session.id); // from now on its events also go to Redis, until it ends
        return { type: 'live.stats', sessionId: session.id, ...session.stats() } as T;
    }
  }
}

function sessionIdOf(id: unknown): string {
  if (typeof id !== 'string' || !/^[0-9a-f-]{36}$/i.test(id)) throw notFound();
  return id;
}
