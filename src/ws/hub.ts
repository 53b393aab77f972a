/**
 * The WebSocket at /api/v1/ws. Authenticated at the upgrade (cookie or Authorization header; a foreign
 * Origin is refused) before the socket opens. Text frames carry one JSON object each; a bad message gets
 * an `error` and the socket stays open. Delivery uses uWS topics: `user:<id>` (balance), `jobs:<userId>` (job
 * events, fed from every process through PostgreSQL NOTIFY), `live:<sessionId>`. A slow client loses messages
 * rather than queueing them (maxBackpressure).
 *
 * This file and http/uws.ts are the only ones that touch uWebSockets.js objects.
 */
import uWS from 'uWebSockets.js';
import { randomUUID } from 'node:crypto';
import { AppError, isAppError, type ErrorCode } from '../errors.js';
import type { HttpRequest, Auth } from '../http/types.js';
import type { LiveManager } from '../live/manager.js';
import type { LiveEvent } from '../live/messages.js';
import type { Logger } from '../log.js';
import { parseClientMessage, type ClientMessage } from './messages.js';

export const WS_PATH = '/api/v1/ws';
const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_BACKPRESSURE_BYTES = 1024 * 1024;
const IDLE_TIMEOUT_S = 120;

interface SocketData {
  readonly id: string;
  readonly userId: string;
  closed: boolean;
}

export interface WsHubDeps {
  readonly app: uWS.TemplatedApp;
  readonly authenticateUpgrade: (req: HttpRequest) => Promise<Auth | null>;
  readonly live: () => LiveManager;
  readonly logger: Logger;
  readonly trustProxy: boolean;
  /** Active jobs of a user, sent when they subscribe to `jobs` (the jobs feature provides it). */
  readonly jobsSnapshot?: (userId: string) => Promise<unknown[]>;
}

export const userTopic = (userId: string): string => `user:${userId}`;
export const liveTopic = (sessionId: string): string => `live:${sessionId}`;

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
        void this.#onMessage(ws, text);
      },
      close: (ws) => {
        ws.getUserData().closed = true;
        this.#sockets.delete(ws);
      },
    });
  }

  get connections(): number {
    return this.#sockets.size;
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
    let ip = Buffer.from(res.getRemoteAddressAsText()).toString();
    if (this.#d.trustProxy && headers['x-forwarded-for']) ip = headers['x-forwarded-for'].split(',')[0]!.trim();
    const req: HttpRequest = { id: randomUUID(), method: 'GET', path: WS_PATH, query: new URLSearchParams(r.getQuery() ?? ''), headers, ip, body: Buffer.alloc(0) };
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const refuse = (status: string, code: ErrorCode, message: string): void => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(status).writeHeader('content-type', 'application/json; charset=utf-8').end(JSON.stringify({ error: { code, message } }));
      });
    };
    this.#d.authenticateUpgrade(req).then(
      (auth) => {
        if (aborted) return;
        if (!auth) {
          refuse('401 Unauthorized', 'UNAUTHENTICATED', 'Sign in first: send a Bearer token or the session cookie.');
          return;
        }
        const data: SocketData = { id: req.id, userId: auth.user.id, closed: false };
        res.cork(() => res.upgrade(data, key, protocol, extensions, context));
      },
      (err: unknown) => {
        if (isAppError(err) && err.code === 'FORBIDDEN') refuse('403 Forbidden', 'FORBIDDEN', err.message);
        else if (isAppError(err) && err.code === 'UNAUTHENTICATED') refuse('401 Unauthorized', 'UNAUTHENTICATED', err.message);
        else {
          this.#d.logger.error({ err }, 'ws: upgrade failed');
          refuse('500 Internal Server Error', 'INTERNAL', 'Something went wrong on our side; the error was logged.');
        }
      },
    );
  }

  #send(ws: uWS.WebSocket<SocketData>, message: object): void {
    if (ws.getUserData().closed) return;
    ws.send(JSON.stringify(message), false);
  }

  async #onMessage(ws: uWS.WebSocket<SocketData>, text: string | undefined): Promise<void> {
    let msg: ClientMessage | undefined;
    try {
      if (text === undefined) throw new AppError('VALIDATION_FAILED', 'Send text frames holding one JSON object each.');
      msg = parseClientMessage(text);
      await this.#handle(ws, msg);
    } catch (err) {
      const known = isAppError(err);
      if (!known) this.#d.logger.error({ err, socket: ws.getUserData().id }, 'ws: message handler failed');
      this.#send(ws, {
        type: 'error',
        code: known ? err.code : 'INTERNAL',
        message: known ? err.message : 'Something went wrong on our side; the error was logged.',
        ...(msg ? { re: msg.type } : {}),
        ...(known && typeof err.details['retryAfterS'] === 'number' ? { retryAfterS: err.details['retryAfterS'] } : {}),
      });
    }
  }

  async #handle(ws: uWS.WebSocket<SocketData>, msg: ClientMessage): Promise<void> {
    const { userId } = ws.getUserData();
    switch (msg.type) {
      case 'subscribe': {
        if (msg.topic === 'jobs') {
          // Subscribe before reading the snapshot: a change committed meanwhile arrives as an event and the
          // snapshot, read after it, is at least as new; the other order could lose it.
          ws.subscribe(`jobs:${userId}`);
          const jobs = (await this.#d.jobsSnapshot?.(userId)) ?? [];
          if (ws.getUserData().closed) return;
          for (const job of jobs) this.#send(ws, { type: 'job', job });
          return;
        }
        const session = this.#d.live().get(msg.topic.slice('live:'.length), userId);
        if (ws.getUserData().closed) return;
        ws.subscribe(liveTopic(session.id));
        this.#send(ws, { type: 'live.stats', sessionId: session.id, ...session.stats() });
        return;
      }
      case 'unsubscribe': {
        if (!ws.getUserData().closed) ws.unsubscribe(msg.topic === 'jobs' ? `jobs:${userId}` : msg.topic);
        return;
      }
      case 'live.offer': {
        const { session, answer } = await this.#d.live().start({
          userId,
          sdp: msg.sdp,
          via: 'ws',
          model: msg.model,
          budgetMs: msg.budgetMs,
          record: msg.record,
        });
        if (ws.getUserData().closed) return; // the session lives on until its media stops (idle timeout)
        ws.subscribe(liveTopic(session.id));
        this.#send(ws, { type: 'live.answer', sessionId: session.id, sdp: answer });
        return;
      }
      case 'live.ice': {
        await this.#d.live().get(msg.sessionId, userId).addIceCandidate(msg.candidate);
        return;
      }
      case 'live.stop': {
        await this.#d.live().get(msg.sessionId, userId).end('stopped');
        return;
      }
    }
  }
}
