/**
 * The WebSocket at /api/v1/ws. Authenticated at the upgrade (cookie or Authorization header; a foreign
 * Origin is refused) before the socket opens. Text frames carry one JSON object each; a bad message gets
 * an `error` and the socket stays open. Delivery uses uWS topics: `user:<id>` (balance), `jobs:<userId>` (job
 * events, fed from every process through PostgreSQL NOTIFY), `live:<sessionId>`. A slow client loses messages
 * rather than queueing them (maxBackpressure). What a message does, and who may connect, is protocol.ts; this
 * file is its uWebSockets.js transport.
 *
 * This file and http/uws.ts are the only ones that touch uWebSockets.js objects.
 */
import uWS from 'uWebSockets.js';
import type { AuthRevoked } from '../accounts/sessions.js';
import type { LiveEvent } from '../live/messages.js';
import {
  clientConn,
  decideUpgrade,
  IDLE_TIMEOUT_S,
  liveTopic,
  MAX_BACKPRESSURE_BYTES,
  MAX_MESSAGE_BYTES,
  onClientText,
  POLICY_CLOSE,
  SIGNED_OUT,
  ACCOUNT_DISABLED,
  upgradeRequest,
  userTopic,
  WS_PATH,
  type ClientConn,
  type ProtocolDeps,
} from './protocol.js';

export { liveTopic, MAX_BACKPRESSURE_BYTES, userTopic, WS_PATH } from './protocol.js';

interface SocketData {
  readonly id: string;
  readonly userId: string;
  readonly authSessionId: string;
  readonly ip: string;
  closed: boolean;
  /** Counted against the user's socket cap (false for one closed at once for being over it). */
  admitted: boolean;
  /** Messages received and not yet handled. */
  inFlight: number;
}

/**
 * Unfinished messages one socket may have: two seconds' worth of its message rate (WS_MESSAGES_PER_S), and at
 * least 256. A client past it is not waiting for answers.
 */
const MIN_IN_FLIGHT = 256;


/** Where the hub registers its route: one app, or a server that hands it each of its apps (HTTP, HTTPS). */
export type AppSource = uWS.TemplatedApp | { onApp(fn: (app: uWS.TemplatedApp) => void): void };

export interface WsHubDeps extends ProtocolDeps {
  readonly app: AppSource;
  /** Open sockets one user may hold (WS_MAX_PER_USER); unset, no cap. */
  readonly maxPerUser?: number;
  /** Of these sign-in session ids, the ones still valid; the sweep closes the sockets of the others. */
  readonly validSessions?: (ids: readonly string[]) => Promise<Set<string>>;
  /** How often open sockets' sign-in sessions are checked (expiry, or a revocation whose event was missed). */
  readonly signInCheckMs?: number;
  /** Told when a message to one socket is dropped because its client is not reading (publish drops are silent). */
  readonly onDropped?: () => void;
}

export class WsHub {
  readonly #d: WsHubDeps;
  readonly #sockets = new Set<uWS.WebSocket<SocketData>>();
  readonly #perUser = new Map<string, number>();
  #sweeper: NodeJS.Timeout | undefined;

  readonly #apps: uWS.TemplatedApp[] = [];
  readonly #maxInFlight: number;

  constructor(deps: WsHubDeps) {
    this.#d = deps;
    this.#maxInFlight = Math.max(MIN_IN_FLIGHT, 2 * (deps.messageLimit?.perSecond ?? 0));
    if ('onApp' in deps.app) deps.app.onApp((app) => this.#attach(app));
    else this.#attach(deps.app);
    if (deps.validSessions) {
      this.#sweeper = setInterval(() => void this.#sweepSignIns(), deps.signInCheckMs ?? 30_000);
      this.#sweeper.unref();
    }
  }

  #attach(app: uWS.TemplatedApp): void {
    const deps = this.#d;
    this.#apps.push(app);
    app.ws<SocketData>(WS_PATH, {
      compression: uWS.DISABLED,
      maxPayloadLength: MAX_MESSAGE_BYTES,
      maxBackpressure: MAX_BACKPRESSURE_BYTES,
      idleTimeout: IDLE_TIMEOUT_S,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => this.#upgrade(res, req, context),
      open: (ws) => {
        const data = ws.getUserData();
        this.#sockets.add(ws);
        const n = this.#perUser.get(data.userId) ?? 0;
        if (deps.maxPerUser !== undefined && n >= deps.maxPerUser) {
          ws.end(POLICY_CLOSE, `Too many WebSockets: a user may have ${deps.maxPerUser} open.`);
          return;
        }
        data.admitted = true;
        this.#perUser.set(data.userId, n + 1);
        ws.subscribe(userTopic(data.userId));
      },
      message: (ws, message, isBinary) => {
        const data = ws.getUserData();
        if (data.closed) return;
        // A client that sends faster than its messages are handled piles up work on this loop: past
        // maxInFlight unfinished messages the socket is closed at once, before any is parsed (one TCP read can
        // carry thousands of small frames, all delivered before the first one's handling can answer).
        if (++data.inFlight > this.#maxInFlight) {
          data.closed = true;
          ws.end(POLICY_CLOSE, 'Too many messages: wait for answers before sending more.');
          return;
        }
        // Copy out before any await: uWS reuses the buffer.
        const text = isBinary ? undefined : Buffer.from(message).toString('utf8');
        void onClientText(this.#d, this.#conn(ws), text).finally(() => data.inFlight--);
      },
      close: (ws, code) => {
        const data = ws.getUserData();
        this.#d.logger.debug({ socket: data.id, code }, 'ws: closed');
        data.closed = true;
        this.#sockets.delete(ws);
        if (data.admitted) {
          const n = (this.#perUser.get(data.userId) ?? 1) - 1;
          if (n > 0) this.#perUser.set(data.userId, n);
          else this.#perUser.delete(data.userId);
        }
      },
    });
  }

  /** Closes the sockets a sign-in session opened (logout), or all of a user's (disabled, deleted). */
  revoke(e: AuthRevoked): number {
    const why = 'disabled' in e && e.disabled ? ACCOUNT_DISABLED : SIGNED_OUT;
    return this.#closeWhere((d) => ('sessionId' in e ? d.authSessionId === e.sessionId : d.userId === e.userId), why);
  }

  #closeWhere(pred: (d: SocketData) => boolean, reason: string): number {
    let n = 0;
    for (const ws of [...this.#sockets]) {
      const d = ws.getUserData();
      if (d.closed || !pred(d)) continue;
      d.closed = true; // nothing more is sent to it, from now
      ws.end(POLICY_CLOSE, reason);
      n++;
    }
    return n;
  }

  /** Closes sockets whose sign-in session expired or was ended where this process did not hear of it. */
  async #sweepSignIns(): Promise<void> {
    const ids = [...new Set([...this.#sockets].map((ws) => ws.getUserData().authSessionId))];
    try {
      for (let i = 0; i < ids.length; i += 1000) {
        const batch = ids.slice(i, i + 1000);
        const valid = await this.#d.validSessions!(batch);
        const gone = new Set(batch.filter((id) => !valid.has(id)));
        if (gone.size > 0) this.#closeWhere((d) => gone.has(d.authSessionId), SIGNED_OUT);
      }
    } catch (err) {
      this.#d.logger.warn({ err }, 'ws: checking sign-in sessions failed');
    }
  }

  /** The protocol's view of a uWS socket; nothing touches `ws` once it has closed. */
  #conn(ws: uWS.WebSocket<SocketData>): ClientConn {
    const onDropped = this.#d.onDropped;
    return clientConn(ws.getUserData(), {
      subscribe: (topic) => ws.subscribe(topic),
      unsubscribe: (topic) => ws.unsubscribe(topic),
      end: (code, reason) => ws.end(code, reason),
      send: (text) => {
        // 2: dropped, the socket already holds maxBackpressure bytes its client has not read.
        if (ws.send(text, false) === 2) onDropped?.();
      },
    });
  }

  get connections(): number {
    return this.#sockets.size;
  }

  /**
   * Bytes written to sockets and not yet taken by their clients (uWS's backpressure), in total and for the
   * worst socket. Each socket holds at most about MAX_BACKPRESSURE_BYTES: past it, messages to it are dropped.
   */
  bufferedBytes(): { total: number; max: number } {
    let total = 0;
    let max = 0;
    for (const ws of this.#sockets) {
      if (ws.getUserData().closed) continue;
      const n = ws.getBufferedAmount();
      total += n;
      if (n > max) max = n;
    }
    return { total, max };
  }

  /** Sends to every socket subscribed to `topic`. */
  publish(topic: string, message: object): void {
    const text = JSON.stringify(message);
    for (const app of this.#apps) app.publish(topic, text, false);
  }

  publishLive(sessionId: string, event: LiveEvent): void {
    this.publish(liveTopic(sessionId), event);
  }

  /** An event of a session another server runs, as the JSON text it relayed. */
  publishLiveText(sessionId: string, text: string): void {
    for (const app of this.#apps) app.publish(liveTopic(sessionId), text, false);
  }

  /** Closes every socket (shutdown). */
  close(): void {
    clearInterval(this.#sweeper);
    for (const ws of [...this.#sockets]) {
      if (!ws.getUserData().closed) ws.end(1001, 'server shutting down');
    }
  }

  #upgrade(res: uWS.HttpResponse, r: uWS.HttpRequest, context: uWS.us_socket_context_t): void {
    // Everything from `r` must be read now: it is invalid after this function returns.
    const headers: Record<string, string> = {};
    r.forEach((k, v) => {
      headers[k] = v;
    });
    const key = r.getHeader('sec-websocket-key');
    const protocol = r.getHeader('sec-websocket-protocol');
    const extensions = r.getHeader('sec-websocket-extensions');
    const req = upgradeRequest(headers, Buffer.from(res.getRemoteAddressAsText()).toString(), r.getQuery() ?? '', this.#d.trustProxy);
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void decideUpgrade(this.#d, req).then((decision) => {
      if (aborted) return;
      res.cork(() => {
        if (decision.ok) {
          const data: SocketData = {
            id: req.id,
            userId: decision.auth.user.id,
            authSessionId: decision.auth.sessionId,
            ip: req.ip,
            closed: false,
            admitted: false,
            inFlight: 0,
          };
          res.upgrade(data, key, protocol, extensions, context);
        } else {
          const body = JSON.stringify({ error: { code: decision.code, message: decision.message } });
          res.writeStatus(decision.status).writeHeader('content-type', 'application/json; charset=utf-8').end(body);
        }
      });
    });
  }
}
