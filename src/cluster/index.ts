/**
 * Several servers on one Redis (REDIS_URL): the bus between them, who is up (heartbeats), session places counted
 * together, any server answering for any session (router), placement when this one is full, a lost server's
 * sessions ended by the others, and drain. Without REDIS_URL it is one process: the router only has the local
 * path and none of the rest exists.
 *
 * Built in two steps because the live manager and the router need each other: `Cluster.create` (the bus and
 * the shared places, which the manager takes), then `attach` once the manager exists.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { EventSink } from '../events/types.js';
import type { LiveManager } from '../live/manager.js';
import { closeLostSessions, statsOfRow, toPublicSession } from '../live/repo.js';
import type { LiveSession } from '../live/session.js';
import type { SessionSlots } from '../live/slots.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { ClusterBus } from './bus.js';
import { NodeRegistry, type NodeInfo } from './nodes.js';
import { LiveRouter } from './router.js';
import { RedisSlots } from './slots.js';

const LOST_MESSAGE = 'The server running this session stopped answering; the session was ended by another server.';

export interface ClusterHealth {
  readonly node: string;
  readonly nodes: { id: string; liveSessions: number; load: number; draining: boolean }[];
}

export class Cluster {
  readonly bus: ClusterBus | undefined;
  readonly #slots: RedisSlots | undefined;
  #registry: NodeRegistry | undefined;
  #router: LiveRouter | undefined;
  #live: LiveManager | undefined;
  #closed = false;

  private constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly metrics: Metrics | undefined,
  ) {
    if (!config.redisUrl) return;
    // Servers sharing a Redis and a job queue name are one cluster.
    const ns = `lookout:cluster:${config.jobs.queueName}`;
    this.bus = new ClusterBus(config.redisUrl, ns, config.nodeId, logger);
    this.#slots = new RedisSlots(this.bus.redis, ns, config.nodeId, config.live.maxSessionsPerUser, config.live.maxSessionsTotal);
  }

  static create(config: Config, logger: Logger, metrics?: Metrics): Cluster {
    return new Cluster(config, logger, metrics);
  }

  get enabled(): boolean {
    return this.bus !== undefined;
  }

  /** The shared places for the live manager (undefined: the manager counts its own). */
  get slots(): SessionSlots | undefined {
    return this.#slots;
  }

  /** The live manager's lifecycle hooks: the router records who owns each session. */
  readonly lifecycle = {
    started: (s: LiveSession): Promise<void> => this.router.lifecycle.started(s),
    ended: (s: LiveSession): void => this.router.lifecycle.ended(s),
  };

  get router(): LiveRouter {
    if (!this.#router) throw new Error('Cluster.attach first');
    return this.#router;
  }

  attach(d: { live: LiveManager; db: Db; deliver: (sessionId: string, text: string) => void; events?: EventSink }): void {
    this.#live = d.live;
    this.#router = new LiveRouter({ live: d.live, bus: this.bus, metrics: this.metrics, deliver: d.deliver });
    const bus = this.bus;
    if (!bus) return;
    const self = (): Omit<NodeInfo, 'load'> => ({
      id: this.config.nodeId,
      url: this.config.publicUrl ?? null,
      liveSessions: d.live.count,
      maxSessions: this.config.live.maxSessions,
      draining: d.live.draining,
    });
    this.#registry = new NodeRegistry(bus.redis, bus.ns, self, (nodeId) => this.#takeOver(nodeId, d.db, d.events), this.logger);
    bus.handle('node.drain', async (body) => this.#drainHere((body as { deadlineS: number }).deadlineS));
  }

  /**
   * Joins the cluster in the background: a server whose Redis is down starts all the same (its /health says
   * the queue is down) and joins once Redis answers.
   */
  start(): void {
    if (!this.bus) return;
    void this.#join(this.bus);
  }

  async #join(bus: ClusterBus): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        await bus.start();
        // Places this node held before a restart under the same NODE_ID (its sessions were closed at start-up).
        const stale = await this.#slots!.releaseNode(this.config.nodeId);
        if (stale > 0) this.logger.warn({ places: stale }, 'cluster: gave back session places a previous process of this node held');
        if (this.#closed) return;
        await this.#registry!.start();
        this.logger.info({ node: this.config.nodeId, ns: bus.ns }, 'cluster: joined');
        return;
      } catch (err) {
        if (attempt === 0) this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'cluster: cannot reach Redis yet; retrying');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  /** The servers up now (with this one), for /health and placement. */
  async nodes(): Promise<NodeInfo[]> {
    return this.#registry ? this.#registry.nodes() : [];
  }

  /** This server and the others up; within a second (an unreachable Redis gives an empty list and the error). */
  async health(): Promise<(ClusterHealth & { error?: string }) | undefined> {
    if (!this.#registry) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const nodes = await Promise.race([
        this.#registry.nodes(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('Redis did not answer within 1 s')), 1000))),
      ]);
      return { node: this.config.nodeId, nodes: nodes.map((n) => ({ id: n.id, liveSessions: n.liveSessions, load: n.load, draining: n.draining })) };
    } catch (err) {
      return { node: this.config.nodeId, nodes: [], error: err instanceof Error ? err.message : String(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Where a client should go when this server is full: the PUBLIC_URL of another server that is up, not
   * draining and below its maximum (the one with the most room), or undefined when there is none.
   */
  async elsewhere(): Promise<string | undefined> {
    const others = (await this.nodes()).filter((n) => n.id !== this.config.nodeId && n.url && !n.draining && n.liveSessions < n.maxSessions);
    others.sort((a, b) => a.liveSessions / a.maxSessions - b.liveSessions / b.maxSessions || a.load - b.load);
    return others[0]?.url ?? undefined;
  }

  /** Drains `nodeId` (this server or another): no new sessions there, running ones end after `deadlineS`. */
  async drain(nodeId: string, deadlineS: number): Promise<{ node: string; liveSessions: number; deadlineS: number }> {
    if (nodeId === this.config.nodeId) return this.#drainHere(deadlineS);
    if (!this.bus) throw new AppError('NOT_FOUND', `No server ${nodeId} here: without REDIS_URL there is only ${this.config.nodeId}.`);
    if (!(await this.nodes()).some((n) => n.id === nodeId)) throw new AppError('NOT_FOUND', `No server ${nodeId} is up.`);
    return this.bus.request(nodeId, 'node.drain', { deadlineS });
  }

  #drainHere(deadlineS: number): { node: string; liveSessions: number; deadlineS: number } {
    const live = this.#live!;
    void live.drain(deadlineS * 1000, 'An administrator drained this server; the session reached the end of its drain time.');
    void this.#registry?.beat().catch(() => undefined); // the others stop placing sessions here now
    return { node: this.config.nodeId, liveSessions: live.count, deadlineS };
  }

  /** A server stopped beating: its sessions end as server_lost (settled once), their watchers everywhere are told. */
  async #takeOver(nodeId: string, db: Db, events?: EventSink): Promise<void> {
    const rows = await closeLostSessions(db, nodeId);
    await this.#slots!.releaseNode(nodeId);
    for (const row of rows) {
      this.metrics?.clusterLost.inc();
      this.router.publishEnded(row.id, { type: 'live.ended', sessionId: row.id, reason: 'server_lost', stats: statsOfRow(row), message: LOST_MESSAGE });
      events?.emit(row.user_id, 'live.ended', { session: toPublicSession(row) });
    }
    if (rows.length > 0) this.logger.warn({ node: nodeId, sessions: rows.length }, 'cluster: ended the live sessions of a lost server');
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.bus?.redis.status === 'ready') await this.#registry?.stop();
    await this.bus?.close(); // a join still waiting for Redis is left behind: it checks #closed before it acts
  }
}
