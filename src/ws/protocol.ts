/**
 * The WebSocket protocol at /api/v1/ws, whatever library carries it: who may open a socket (the upgrade's
 * authentication and its refusals), what a client message does, and what a bad one gets back. The transport
 * (hub.ts on uWebSockets.js; the benchmark's `ws` twin) supplies a ClientConn per socket and nothing else.
 * This module does not load uWebSockets.js.
 */
import { randomUUID } from 'node:crypto';
import { AppError, isAppError, type ErrorCode } from '../errors.js';
import type { Auth, HttpRequest } from '../http/types.js';
import type { LiveManager } from '../live/manager.js';
import type { LiveRouter } from '../cluster/router.js';
import type { Logger } from '../log.js';
import { RateLimiter } from '../accounts/rate-limit.js';
import { parseClientMessage, type ClientMessage } from './messages.js';

export const WS_PATH = '/api/v1/ws';
/** Largest client message. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** What the server holds for a client that is not reading; past it, messages to that client are dropped. */
export const MAX_BACKPRESSURE_BYTES = 1024 * 1024;
/** A socket silent this long (pings unanswered) is closed. */
export const IDLE_TIMEOUT_S = 120;

/** The close reason of a socket whose sign-in session ended (logout, expiry, disabled user). */
export const SIGNED_OUT = 'The sign-in session ended (signed out, expired or disabled).';
export const ACCOUNT_DISABLED = 'The account was disabled by an administrator.';

export const userTopic = (userId: string): string => `user:${userId}`;
export const jobsTopic = (userId: string): string => `jobs:${userId}`;
export const liveTopic = (sessionId: string): string => `live:${sessionId}`;

/** Close code for a socket closed by policy: signed out, too many sockets, too many messages (RFC 6455). */
export const POLICY_CLOSE = 1008;

/** One open socket, as the protocol sees it. */
export interface ClientConn {
  readonly id: string;
  readonly userId: string;
  /** The sign-in session that authenticated the upgrade: logging it out closes the socket. */
  readonly authSessionId: string;
  readonly ip: string;
  /** True once the socket has closed: nothing more may be sent or subscribed. */
  readonly closed: boolean;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  send(message: object): void;
  /** Closes the socket with a code and a reason the client can read. */
  end(code: number, reason: string): void;
}

/** What a transport knows of a socket, and how it subscribes and sends; nothing is done once it has closed. */
export function clientConn(
  socket: { readonly id: string; readonly userId: string; readonly authSessionId: string; readonly ip: string; readonly closed: boolean },
  ops: { subscribe(topic: string): void; unsubscribe(topic: string): void; send(text: string): void; end(code: number, reason: string): void },
): ClientConn {
  return {
    id: socket.id,
    userId: socket.userId,
    authSessionId: socket.authSessionId,
    ip: socket.ip,
    get closed() {
      return socket.closed;
    },
    subscribe: (topic) => {
      if (!socket.closed) ops.subscribe(topic);
    },
    unsubscribe: (topic) => {
      if (!socket.closed) ops.unsubscribe(topic);
    },
    send: (message) => {
      if (!socket.closed) ops.send(JSON.stringify(message));
    },
    end: (code, reason) => {
      if (!socket.closed) ops.end(code, reason);
    },
  };
}

/**
 * Messages per socket: `perSecond`, counted per 1 s window (a burst is at most that many). Past it a message is answered with a RATE_LIMITED
 * `error` and not handled; a socket that sends twice the limit in one window is closed.
 */
export class MessageLimit {
  static readonly WINDOW_S = 1;
  readonly #rl: RateLimiter;

  constructor(readonly perSecond: number) {
    this.#rl = new RateLimiter(perSecond * MessageLimit.WINDOW_S, MessageLimit.WINDOW_S * 1000);
  }

  async check(socketId: string): Promise<{ verdict: 'ok' } | { verdict: 'refuse' | 'close'; wait: number }> {
    const { wait, count } = await this.#rl.take(socketId);
    if (wait === 0) return { verdict: 'ok' };
    return { verdict: count > 2 * this.#rl.limit ? 'close' : 'refuse', wait };
  }
}

export interface ProtocolDeps {
  readonly authenticateUpgrade: (req: HttpRequest) => Promise<Auth | null>;
  readonly live: () => LiveManager;
  /** Stop, ICE, configure and watch reach the server that runs the session, this one or another. */
  readonly router: () => LiveRouter;
  /** Another server with room, when this one is full (several servers): its PUBLIC_URL. */
  readonly elsewhere?: () => Promise<string | undefined>;
  readonly logger: Logger;
  readonly trustProxy: boolean;
  /** Active jobs of a user, sent when they subscribe to `jobs` (the jobs feature provides it). */
  readonly jobsSnapshot?: (userId: string) => Promise<unknown[]>;
  /** Counts a live.offer against the rate limits; throws RATE_LIMITED when over. */
  readonly limitLive?: (userId: string, ip: string) => Promise<void>;
  /** Messages per socket (WS_MESSAGES_PER_S). */
  readonly messageLimit?: MessageLimit;
  /** Whether a sign-in session still holds; checked before anything that costs tokens or reads data. */
  readonly signedIn?: (authSessionId: string) => Promise<boolean>;
}

/** The upgrade request as the authenticator reads it (read everything from the library's request first). */
export function upgradeRequest(headers: Record<string, string>, remoteAddress: string, query: string, trustProxy: boolean): HttpRequest {
  let ip = remoteAddress;
  if (trustProxy && headers['x-forwarded-for']) ip = headers['x-forwarded-for'].split(',')[0]!.trim();
  return { id: randomUUID(), method: 'GET', path: WS_PATH, query: new URLSearchParams(query), headers, ip, body: Buffer.alloc(0) };
}

export type UpgradeDecision = { ok: true; auth: Auth } | { ok: false; status: string; code: ErrorCode; message: string };

/** Whether the socket may open; a refusal carries the HTTP status line and the contract's error. */
export async function decideUpgrade(d: Pick<ProtocolDeps, 'authenticateUpgrade' | 'logger'>, req: HttpRequest): Promise<UpgradeDecision> {
  try {
    const auth = await d.authenticateUpgrade(req);
    if (auth) return { ok: true, auth };
    return { ok: false, status: '401 Unauthorized', code: 'UNAUTHENTICATED', message: 'Sign in first: send a Bearer token or the session cookie.' };
  } catch (err) {
    if (isAppError(err) && err.code === 'FORBIDDEN') return { ok: false, status: '403 Forbidden', code: 'FORBIDDEN', message: err.message };
    if (isAppError(err) && err.code === 'UNAUTHENTICATED') return { ok: false, status: '401 Unauthorized', code: 'UNAUTHENTICATED', message: err.message };
    d.logger.error({ err }, 'ws: upgrade failed');
    return { ok: false, status: '500 Internal Server Error', code: 'INTERNAL', message: 'Something went wrong on our side; the error was logged.' };
  }
}

/** Handles one client frame (`text` undefined: a binary frame). A bad message gets an `error`; the socket stays open. */
export async function onClientText(d: ProtocolDeps, conn: ClientConn, text: string | undefined): Promise<void> {
  let msg: ClientMessage | undefined;
  if (d.messageLimit) {
    // Before parsing: a flood costs one counter update per message.
    const limited = await d.messageLimit.check(conn.id);
    if (limited.verdict === 'close') {
      conn.end(POLICY_CLOSE, `Too many messages: at most ${d.messageLimit.perSecond} a second.`);
      return;
    }
    if (limited.verdict === 'refuse') {
      conn.send({
        type: 'error',
        code: 'RATE_LIMITED',
        message: `Too many messages: at most ${d.messageLimit.perSecond} a second; try again in ${limited.wait} s.`,
        retryAfterS: limited.wait,
      });
      return;
    }
  }
  try {
    if (text === undefined) throw new AppError('VALIDATION_FAILED', 'Send text frames holding one JSON object each.');
    msg = parseClientMessage(text);
    await handle(d, conn, msg);
  } catch (err) {
    const known = isAppError(err);
    if (!known) d.logger.error({ err, socket: conn.id }, 'ws: message handler failed');
    if (conn.closed) return;
    conn.send({
      type: 'error',
      code: known ? err.code : 'INTERNAL',
      message: known ? err.message : 'Something went wrong on our side; the error was logged.',
      ...(msg ? { re: msg.type } : {}),
      ...(known && typeof err.details['retryAfterS'] === 'number' ? { retryAfterS: err.details['retryAfterS'] } : {}),
      ...(known && typeof err.details['url'] === 'string' ? { url: err.details['url'] } : {}),
    });
  }
}

async function handle(d: ProtocolDeps, conn: ClientConn, msg: ClientMessage): Promise<void> {
  const { userId } = conn;
  // A socket whose sign-in ended is being closed; until it is, it may not start or watch anything.
  if ((msg.type === 'live.offer' || msg.type === 'subscribe') && d.signedIn && !(await d.signedIn(conn.authSessionId))) {
    conn.end(POLICY_CLOSE, SIGNED_OUT);
    throw new AppError('UNAUTHENTICATED', 'The sign-in session of this socket has ended; sign in again.');
  }
  switch (msg.type) {
    case 'subscribe': {
      if (msg.topic === 'jobs') {
        // Subscribe before reading the snapshot: a change committed meanwhile arrives as an event and the
        // snapshot, read after it, is at least as new; the other order could lose it.
        conn.subscribe(jobsTopic(userId));
        const jobs = (await d.jobsSnapshot?.(userId)) ?? [];
        if (conn.closed) return;
        for (const job of jobs) conn.send({ type: 'job', job });
        return;
      }
      const sessionId = msg.topic.slice('live:'.length);
      const stats = await d.router().watch(sessionId, userId);
      if (conn.closed) return;
      conn.subscribe(liveTopic(sessionId));
      conn.send(stats);
      return;
    }
    case 'unsubscribe': {
      if (!conn.closed) conn.unsubscribe(msg.topic === 'jobs' ? jobsTopic(userId) : msg.topic);
      return;
    }
    case 'live.offer': {
      if (d.live().full && d.elsewhere) {
        const url = await d.elsewhere();
        if (url) throw new AppError('UNAVAILABLE', `This server takes no more live sessions; send the offer to ${url} instead.`, { retryAfterS: 0, url });
      }
      await d.limitLive?.(userId, conn.ip);
      const { session, answer } = await d.live().start({
        userId,
        sdp: msg.sdp,
        via: 'ws',
        pipeline: msg.pipeline,
        budgetMs: msg.budgetMs,
        record: msg.record,
        store: msg.store,
      });
      if (conn.closed) return; // the session lives on until its media stops (idle timeout)
      conn.subscribe(liveTopic(session.id));
      conn.send({ type: 'live.answer', sessionId: session.id, sdp: answer });
      return;
    }
    case 'live.ice': {
      await d.router().ice(msg.sessionId, userId, [msg.candidate]);
      return;
    }
    case 'live.stop': {
      await d.router().stop(msg.sessionId, userId);
      return;
    }
    case 'live.configure': {
      const answer = await d.router().configure(msg.sessionId, userId, msg.changes);
      if (!conn.closed) conn.send(answer);
      return;
    }
  }
}
