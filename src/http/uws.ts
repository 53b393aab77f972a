/**
 * With uws-answer.ts, the only module that touches uWebSockets.js request/response objects (besides the WebSocket
 * hub). It copies everything a handler needs out of uWS synchronously, reads the body with a byte cap, and has the
 * handler's answer written corked (uws-answer.ts), never after the client has gone.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import uWS from 'uWebSockets.js';
import type { Logger } from '../log.js';
import type { HttpRequest, HttpResponse } from './types.js';
import { writeAnswer } from './uws-answer.js';

const REQUEST_ID = /^[\w.:-]{1,64}$/;
/** Bytes of a refused (too large) body read and dropped before the 413 is sent and the connection closed. */
const DRAIN_MAX_BYTES = 16 * 1024 * 1024;
const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly bodyLimitBytes: number;
  readonly trustProxy: boolean;
  readonly logger: Logger;
  readonly handle: (req: HttpRequest) => Promise<HttpResponse>;
  /** Routes that read their body as a stream (uploads): no body limit here, the handler enforces its own. */
  readonly streamsBody?: (method: string, path: string) => boolean;
  /** Told of every answered (or aborted, status 499) request: for metrics. */
  readonly observe?: (o: { method: string; route: string; status: number; seconds: number }) => void;
  /** HTTPS beside HTTP, on its own port, with the same routes and WebSocket. */
  readonly tls?: { readonly port: number; readonly certFile: string; readonly keyFile: string };
}

interface Served {
  readonly app: uWS.TemplatedApp;
  readonly secure: boolean;
  listenSocket: uWS.us_listen_socket | null;
}

export class HttpServer {
  /** Every app this server made (the plain one, the TLS one, and TLS ones replaced by a reload that still hold connections). */
  readonly #served: Served[] = [];
  readonly #appListeners: ((app: uWS.TemplatedApp) => void)[] = [];
  #plain: Served;
  #tls: Served | undefined;
  #inFlight = 0;
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #port = 0;
  #httpsPort = 0;

  constructor(private readonly opts: HttpServerOptions) {
    this.#plain = this.#make(false);
    if (opts.tls) this.#tls = this.#make(true, opts.tls);
  }

  #make(secure: boolean, tls?: { certFile: string; keyFile: string }): Served {
    const app = secure && tls ? uWS.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile }) : uWS.App();
    app.any('/*', (res, req) => this.#onRequest(res, req, secure));
    const served: Served = { app, secure, listenSocket: null };
    this.#served.push(served);
    for (const fn of this.#appListeners) fn(app);
    return served;
  }

  /** Calls `fn` with every app, now and when a TLS reload makes a new one (the WebSocket hub registers on each). */
  onApp(fn: (app: uWS.TemplatedApp) => void): void {
    this.#appListeners.push(fn);
    for (const s of this.#served) fn(s.app);
  }

  /** The plain-HTTP uWS app. */
  get app(): uWS.TemplatedApp {
    return this.#plain.app;
  }

  get port(): number {
    return this.#port;
  }

  /** The HTTPS port, 0 when HTTPS is off. */
  get httpsPort(): number {
    return this.#httpsPort;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Listens on PORT, and on the HTTPS port when there is one; resolves with the plain port. */
  async listen(): Promise<number> {
    this.#port = await this.#listen(this.#plain, this.opts.port, 'PORT');
    if (this.#tls && this.opts.tls) this.#httpsPort = await this.#listen(this.#tls, this.opts.tls.port, 'HTTPS_PORT');
    return this.#port;
  }

  #listen(served: Served, port: number, variable: string): Promise<number> {
    return new Promise((resolve, reject) => {
      served.app.listen(this.opts.host, port, (socket) => {
        if (!socket) {
          reject(new Error(`Could not listen on ${this.opts.host}:${port} (port in use?). Set ${variable} to a free port.`));
          return;
        }
        served.listenSocket = socket;
        resolve(uWS.us_socket_local_port(socket));
      });
    });
  }

  /**
   * Serves a new certificate: a new TLS app takes the HTTPS port; connections made with the old certificate go on
   * until they close. The files must have been checked (tls.ts) first.
   */
  async reloadTls(files: { certFile: string; keyFile: string }): Promise<void> {
    if (!this.#tls || !this.opts.tls) return;
    const next = this.#make(true, files);
    const old = this.#tls;
    if (old.listenSocket) uWS.us_listen_socket_close(old.listenSocket);
    old.listenSocket = null;
    try {
      await this.#listen(next, this.#httpsPort, 'HTTPS_PORT');
      this.#tls = next;
    } catch (err) {
      // Keep serving the old certificate.
      this.#tls = old;
      await this.#listen(old, this.#httpsPort, 'HTTPS_PORT');
      throw err;
    }
  }

  /** Sends to every socket subscribed to `topic`, on every app (a uWS topic is per app). */
  publish(topic: string, text: string): void {
    for (const s of this.#served) s.app.publish(topic, text, false);
  }

  /** Closes the listening sockets: new connections are refused; open ones go on. */
  stopAccepting(): void {
    for (const s of this.#served) {
      if (s.listenSocket) uWS.us_listen_socket_close(s.listenSocket);
      s.listenSocket = null;
    }
  }

  /** Stops accepting, waits up to graceMs for in-flight requests, then closes every connection. */
  close(graceMs: number): Promise<void> {
    return (this.#closing ??= (async () => {
      this.stopAccepting();
      if (this.#inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          this.#drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      for (const s of this.#served) s.app.close();
    })());
  }

  #onRequest(res: uWS.HttpResponse, r: uWS.HttpRequest, secure: boolean): void {
    const started = performance.now();
    // Everything from `r` must be read now: it is invalid after this function returns.
    const method = r.getMethod().toUpperCase();
    const path = r.getUrl();
    const queryString = r.getQuery() ?? '';
    const headers: Record<string, string> = {};
    r.forEach((k, v) => {
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    });
    const given = headers['x-request-id'];
    const id = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    let ip = Buffer.from(res.getRemoteAddressAsText()).toString();
    if (this.opts.trustProxy && headers['x-forwarded-for']) ip = headers['x-forwarded-for'].split(',')[0]!.trim();

    let aborted = false;
    this.#inFlight++;
    let finished = false;
    let current: HttpRequest | undefined;
    const finish = (status: number): void => {
      if (finished) return;
      finished = true;
      this.#inFlight--;
      this.opts.observe?.({ method, route: current?.route ?? 'unmatched', status, seconds: (performance.now() - started) / 1000 });
      this.opts.logger.info(
        { reqId: id, method, path, status, ms: Math.round((performance.now() - started) * 10) / 10, ip },
        aborted ? 'request aborted' : 'request',
      );
      if (this.#inFlight === 0) this.#drained?.();
    };
    let onAbort: (() => void) | undefined; // uWS keeps one onAborted handler per response: this one
    res.onAborted(() => {
      aborted = true;
      onAbort?.();
      finish(499);
    });

    const run = (body: Buffer): void => {
      const req: HttpRequest = { id, method, path, query: new URLSearchParams(queryString), headers, ip, body, secure };
      current = req;
      this.opts.handle(req).then(
        (answer) => writeAnswer(res, answer, id, method, () => aborted, finish, this.opts.logger),
        (err: unknown) => {
          this.opts.logger.error({ err, reqId: id }, 'handler crashed');
          writeAnswer(res, internalError(), id, method, () => aborted, finish, this.opts.logger);
        },
      );
    };

    if (BODYLESS.has(method)) {
      run(Buffer.alloc(0));
      return;
    }
    if (this.opts.streamsBody?.(method, path)) {
      const body = this.#streamBody(res, (stream) => {
        const req: HttpRequest = { id, method, path, query: new URLSearchParams(queryString), headers, ip, body: Buffer.alloc(0), bodyStream: stream, secure };
        current = req;
        // An answer before the body's end (413 mid-upload, a refused file): read and drop the rest of the body
        // instead of closing with unread data, which makes the kernel reset the connection and the client
        // lose the answer (a "lingering close"; browsers and HTTP clients then stop sending).
        const write = (answer: HttpResponse): void => {
          body.discardRest();
          writeAnswer(res, answer, id, method, () => aborted, finish, this.opts.logger);
        };
        this.opts.handle(req).then(write, (err: unknown) => {
          if (aborted) this.opts.logger.info({ reqId: id, err: err instanceof Error ? err.message : String(err) }, 'request body cut off: the client went away');
          else this.opts.logger.error({ err, reqId: id }, 'handler crashed');
          write(internalError());
        });
      });
      onAbort = body.gone;
      return;
    }
    const limit = this.opts.bodyLimitBytes;
    const declared = Number(headers['content-length'] ?? '0');
    const chunks: Buffer[] = [];
    let size = 0;
    // Over the limit (declared, or crossed by a chunked body): keep reading and dropping the body, then answer 413,
    // so the client, still writing, reads the answer instead of a reset (closing with unread data makes the kernel
    // send RST). Past DRAIN_MAX_BYTES the connection is closed with the answer, as a bound on what is read for nothing.
    let refused = declared > limit;
    res.onData((chunk, isLast) => {
      size += chunk.byteLength;
      if (!refused && size > limit) {
        refused = true;
        chunks.length = 0;
      }
      if (refused) {
        if (!finished && (isLast || size > DRAIN_MAX_BYTES)) writeAnswer(res, tooLarge(limit), id, method, () => aborted, finish, this.opts.logger, !isLast);
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0))); // uWS reuses the chunk's memory after this callback
      if (isLast) run(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
  }

  /**
   * Feeds the request body into a Readable. When the stream's buffer is full the socket is paused (uWS stops
   * reading from the kernel, so TCP pushes back on the client) until the consumer reads again.
   */
  #streamBody(res: uWS.HttpResponse, start: (stream: Readable) => void): { gone: () => void; discardRest: () => void } {
    let paused = false;
    let ended = false;
    let gone = false;
    let discarding = false;
    const stream = new Readable({
      highWaterMark: 1 << 20,
      read() {
        if (paused && !gone) {
          paused = false;
          res.resume();
        }
      },
    });
    res.onData((chunk, isLast) => {
      if (isLast) ended = true;
      if (gone || discarding || stream.destroyed) return;
      // uWS reuses the chunk's memory after this callback: copy it.
      const more = stream.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        stream.push(null);
      } else if (!more && !paused) {
        paused = true;
        res.pause();
      }
    });
    start(stream);
    return {
      gone: () => {
        gone = true;
        if (!ended) stream.destroy(new ClientGone());
      },
      discardRest: () => {
        if (ended || discarding || gone) return;
        discarding = true;
        stream.destroy();
        if (paused) {
          paused = false;
          res.resume();
        }
      },
    };
  }
}

/** The client closed the connection while its request body was still coming: not a server fault. */
export class ClientGone extends Error {
  override readonly name = 'ClientGone';
  constructor() {
    super('The client went away during the upload.');
  }
}

function tooLarge(limit: number): HttpResponse {
  return {
    status: 413,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: { code: 'PAYLOAD_TOO_LARGE', message: `Request body is larger than ${limit} bytes.` } }),
  };
}

function internalError(): HttpResponse {
  return {
    status: 500,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: { code: 'INTERNAL', message: 'Something went wrong on our side; the error was logged.' } }),
  };
}
