/**
 * The client's end of GET /api/v1/ws: a bearer-authenticated WebSocket that parses the server's text
 * frames into messages, hands them to listeners, and can wait for one message in particular.
 */
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { StreamError } from './errors.js';
import { parseServerMessage, type ClientMessage, type ServerMessage } from './messages.js';
import { deadline, latch, type Latch } from './wait.js';

/** http(s)://host[:port][/…] → ws(s)://host[:port]/api/v1/ws */
export function wsUrl(server: string): string {
  const u = new URL('/api/v1/ws', server);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

function rawText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => (text += d));
    res.on('end', () => resolve(text));
    res.on('error', () => resolve(text));
  });
}

/** A refused upgrade (401, 403, …) → the server's code and message when its body carries them. */
async function refusal(res: IncomingMessage): Promise<StreamError> {
  const status = res.statusCode ?? 0;
  const text = await readBody(res);
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const { code, message } = body.error ?? {};
    if (typeof code === 'string' && typeof message === 'string') return new StreamError(code, message, status);
  } catch {
    // not JSON: fall through
  }
  return new StreamError(`HTTP_${status}`, `WebSocket upgrade refused: HTTP ${status}`, status);
}

export class ServerSocket {
  readonly #ws: WebSocket;
  readonly #listeners = new Set<(m: ServerMessage) => void>();
  readonly #closed: Latch<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.#closed = latch();
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) return;
      const m = parseServerMessage(rawText(data));
      if (m) for (const fn of [...this.#listeners]) fn(m);
    });
    ws.on('close', (code: number, reason: Buffer) => this.#closed.resolve({ code, reason: reason.toString('utf8') }));
    ws.on('error', (err) => this.#closed.resolve({ code: 1006, reason: `socket error: ${err.message}` }));
  }

  /** Connects to the server's WebSocket with `Authorization: Bearer <token>`; rejects with the server's refusal. */
  static open(server: string, token: string, timeoutMs = 10_000, signal?: AbortSignal): Promise<ServerSocket> {
    const ws = new WebSocket(wsUrl(server), { headers: { authorization: `Bearer ${token}` }, handshakeTimeout: timeoutMs });
    const opened = new Promise<ServerSocket>((resolve, reject) => {
      ws.once('open', () => resolve(new ServerSocket(ws)));
      ws.once('unexpected-response', (req, res) => {
        refusal(res)
          .then(reject, reject)
          .finally(() => req.destroy());
      });
      ws.on('error', (e) => reject(new StreamError('CONNECTION_FAILED', `WebSocket ${wsUrl(server)}: ${e.message}`)));
    });
    return deadline(opened, timeoutMs + 1_000, () => new StreamError('TIMEOUT', 'WebSocket did not open in time'), signal).catch((e: unknown) => {
      ws.terminate();
      throw e;
    });
  }

  /** Resolves once the socket is closed, by either side. */
  get closed(): Promise<{ code: number; reason: string }> {
    return this.#closed.promise;
  }

  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  send(m: ClientMessage): void {
    if (this.isOpen) this.#ws.send(JSON.stringify(m));
  }

  /** Calls `fn` with every message from now on; returns the unsubscribe function. */
  listen(fn: (m: ServerMessage) => void): () => void {
    this.#listeners.add(fn);
    return () => void this.#listeners.delete(fn);
  }

  /**
   * The first message from now on for which `pick` returns a value; rejects when the socket closes first,
   * after `timeoutMs`, or when the signal aborts.
   */
  waitFor<T>(pick: (m: ServerMessage) => T | undefined, timeoutMs: number, what: string, signal?: AbortSignal): Promise<T> {
    let off = (): void => undefined;
    const found = new Promise<T>((resolve, reject) => {
      off = this.listen((m) => {
        const v = pick(m);
        if (v !== undefined) resolve(v);
      });
      this.closed.then(
        ({ code, reason }) => reject(new StreamError('DISCONNECTED', `WebSocket closed (${code}${reason ? `: ${reason}` : ''}) while waiting for ${what}`)),
        reject,
      );
    });
    return deadline(found, timeoutMs, () => new StreamError('TIMEOUT', `no ${what} within ${timeoutMs} ms`), signal).finally(() => off());
  }

  /** Closes the socket, cutting it after a second if the server does not answer the close; safe to call twice. */
  close(): void {
    if (this.#ws.readyState !== WebSocket.OPEN) {
      if (this.#ws.readyState !== WebSocket.CLOSED) this.#ws.terminate();
      return;
    }
    this.#ws.close(1000, 'done');
    const cut = setTimeout(() => this.#ws.terminate(), 1_000);
    cut.unref();
    void this.closed.then(() => clearTimeout(cut));
  }
}
