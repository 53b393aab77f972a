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
import type { LiveEvent } from '../live/messages.js';
import {
  clientConn,
  decideUpgrade,
  IDLE_TIMEOUT_S,
  liveTopic,
  MAX_BACKPRESSURE_BYTES,
  MAX_MESSAGE_BYTES,
  onClientText,
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
  readonly ip: string;
  closed: boolean;
}

export interface WsHubDeps extends ProtocolDeps {
  readonly app: uWS.TemplatedApp;
  /** Told when a message to one socket is dropped because its client is not reading (publish drops are silent). */
  readonly onDropped?: () => void;
}

export class WsHub {
  readonly #d: WsHubDeps;
  readonly #sockets = new Set<uWS.WebSocket<SocketData>>();

  constructor(deps: WsHubDeps) {
    this.#d = deps;
    deps.app.ws<SocketData>(WS_PATH, {
      compression: uWS.DISABLED,
      maxPayloadLength: MAX_MESSAGE_BYTES,
      maxBackpressure: MAX_BACKPRESSURE_BYTES,
      idleTimeout: IDLE_TIMEOUT_S,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => this.#upgrade(res, req, context),
      open: (ws) => {
        this.#sockets.add(ws);
        ws.subscribe(userTopic(ws.getUserData().userId));
      },
      message: (ws, message, isBinary) => {
        // Copy out before any await: uWS reuses the buffer.
        const text = isBinary ? undefined : Buffer.from(message).toString('utf8');
        void onClientText(this.#d, this.#conn(ws), text);
      },
      close: (ws, code) => {
        this.#d.logger.debug({ socket: ws.getUserData().id, code }, 'ws: closed');
        ws.getUserData().closed = true;
        this.#sockets.delete(ws);
      },
    });
  }

  /** The protocol's view of a uWS socket; nothing touches `ws` once it has closed. */
  #conn(ws: uWS.WebSocket<SocketData>): ClientConn {
    const onDropped = this.#d.onDropped;
    return clientConn(ws.getUserData(), {
      subscribe: (topic) => ws.subscribe(topic),
      unsubscribe: (topic) => ws.unsubscribe(topic),
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
    this.#d.app.publish(topic, JSON.stringify(message), false);
  }

  publishLive(sessionId: string, event: LiveEvent): void {
    this.publish(liveTopic(sessionId), event);
  }

  /** Closes every socket (shutdown). */
  close(): void {
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
          const data: SocketData = { id: req.id, userId: decision.auth.user.id, ip: req.ip, closed: false };
          res.upgrade(data, key, protocol, extensions, context);
        } else {
          const body = JSON.stringify({ error: { code: decision.code, message: decision.message } });
          res.writeStatus(decision.status).writeHeader('content-type', 'application/json; charset=utf-8').end(body);
        }
      });
    });
  }
}
