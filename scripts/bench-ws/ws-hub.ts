/**
 * src/ws/hub.ts (WsHub) rebuilt on the `ws` package, for the benchmark's side-by-side comparison only: the same
 * upgrade-time authentication (HttpRequest in, Auth or null out; 401/403/500 answered before the socket
 * opens), the same message parsing (src/ws/messages.ts) and handling, the same topics (`user:<id>` on open,
 * `jobs:<userId>` on subscribe, `live:<sessionId>`), and the same slow-consumer policy: a publish skips a
 * socket with more than 1 MiB buffered instead of queueing more (uWS's maxBackpressure). No compression.
 *
 * Idiomatic `ws`: a WebSocketServer in noServer mode on a node:http server's `upgrade` event, per-topic
 * Sets of sockets, publish = JSON.stringify once (encoded to one Buffer) then `send` to each subscriber, and
 * the README's ping/pong heartbeat in place of uWS's idleTimeout + automatic pings.
 *
 * The protocol itself (upgrade decision, message handling, error replies, limits, topics) is Lookout's own
 * src/ws/protocol.ts, as in the uWS hub: only the transport differs. It imports nothing from src/ws/hub.ts,
 * which would load uWebSockets.js into this process.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import {
  decideUpgrade,
  clientConn,
  IDLE_TIMEOUT_S,
  MAX_BACKPRESSURE_BYTES,
  MAX_MESSAGE_BYTES,
  onClientText,
  upgradeRequest,
  userTopic,
  WS_PATH,
  type ProtocolDeps,
} from '../../src/ws/protocol.js';

const TEXT = { binary: false } as const;

interface SocketData {
  readonly id: string;
  readonly userId: string;
  readonly authSessionId: string;
  readonly ip: string;
  readonly topics: Set<string>;
  closed: boolean;
  alive: boolean;
}

/** The uWS hub's dependencies, with a node:http server in place of the uWS app. */
export type WsPackageHubDeps = ProtocolDeps & { readonly server: http.Server };

export class WsPackageHub {
  readonly #d: WsPackageHubDeps;
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_MESSAGE_BYTES, clientTracking: false });
  readonly #sockets = new Map<WebSocket, SocketData>();
  readonly #topics = new Map<string, Set<WebSocket>>();
  readonly #heartbeat: NodeJS.Timeout;
  /** Sends skipped because the socket had more than MAX_BACKPRESSURE_BYTES buffered. */
  skipped = 0;

  constructor(deps: WsPackageHubDeps) {
    this.#d = deps;
    deps.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    // A socket that has not answered the previous ping within IDLE_TIMEOUT_S / 2 is dropped.
    this.#heartbeat = setInterval(() => {
      for (const [ws, data] of this.#sockets) {
        if (!data.alive) {
          ws.terminate();
          continue;
        }
        data.alive = false;
        ws.ping();
      }
    }, (IDLE_TIMEOUT_S / 2) * 1000);
    this.#heartbeat.unref();
  }

  get connections(): number {
    return this.#sockets.size;
  }

  subscribers(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /** Sends to every socket subscribed to `topic`. */
  publish(topic: string, message: object): void {
    const subs = this.#topics.get(topic);
    if (!subs) return;
    const data = Buffer.from(JSON.stringify(message));
    for (const ws of subs) {
      if (ws.bufferedAmount > MAX_BACKPRESSURE_BYTES) {
        this.skipped++;
        continue;
      }
      ws.send(data, TEXT);
    }
  }

  /** Closes every socket (shutdown). */
  close(): void {
    clearInterval(this.#heartbeat);
    for (const [ws, data] of [...this.#sockets]) {
      if (!data.closed) ws.close(1001, 'server shutting down');
    }
  }

  #upgrade(r: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const onSocketError = (): void => {
      socket.destroy();
    };
    socket.on('error', onSocketError);
    const url = new URL(r.url ?? '/', 'http://localhost');
    if (url.pathname !== WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const req = upgradeRequest(headers, r.socket.remoteAddress ?? '', url.search, this.#d.trustProxy);
    let aborted = false;
    socket.once('close', () => {
      aborted = true;
    });
    void decideUpgrade(this.#d, req).then((decision) => {
      if (aborted) return;
      if (!decision.ok) {
        const body = JSON.stringify({ error: { code: decision.code, message: decision.message } });
        socket.end(
          `HTTP/1.1 ${decision.status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
        return;
      }
      socket.removeListener('error', onSocketError);
      const data: SocketData = { id: req.id, userId: decision.auth.user.id, authSessionId: decision.auth.sessionId, ip: req.ip, topics: new Set(), closed: false, alive: true };
      this.#wss.handleUpgrade(r, socket, head, (ws) => this.#open(ws, data));
    });
  }

  #open(ws: WebSocket, data: SocketData): void {
    this.#sockets.set(ws, data);
    this.#subscribe(ws, data, userTopic(data.userId));
    const conn = clientConn(data, {
      subscribe: (topic) => this.#subscribe(ws, data, topic),
      unsubscribe: (topic) => this.#unsubscribe(ws, data, topic),
      send: (text) => ws.send(text),
      end: (code, reason) => ws.close(code, reason),
    });
    ws.on('pong', () => {
      data.alive = true;
    });
    ws.on('message', (message: RawData, isBinary: boolean) => {
      data.alive = true;
      const text = isBinary ? undefined : Buffer.isBuffer(message) ? message.toString('utf8') : Buffer.from(message as ArrayBuffer).toString('utf8');
      void onClientText(this.#d, conn, text);
    });
    ws.on('error', (err) => this.#d.logger.debug({ err, socket: data.id }, 'ws: socket error'));
    ws.on('close', () => {
      data.closed = true;
      for (const topic of data.topics) this.#unsubscribe(ws, data, topic);
      this.#sockets.delete(ws);
    });
  }

  #subscribe(ws: WebSocket, data: SocketData, topic: string): void {
    let subs = this.#topics.get(topic);
    if (!subs) this.#topics.set(topic, (subs = new Set()));
    subs.add(ws);
    data.topics.add(topic);
  }

  #unsubscribe(ws: WebSocket, data: SocketData, topic: string): void {
    data.topics.delete(topic);
    const subs = this.#topics.get(topic);
    if (!subs) return;
    subs.delete(ws);
    if (subs.size === 0) this.#topics.delete(topic);
  }
}
