import type { User } from '../db/schema.js';

/** A request as handlers see it: plain data, read from uWS before any await. */
export interface HttpRequest {
  readonly id: string;
  /** Upper case: GET, POST, ... */
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly ip: string;
  /** Came over this server's own HTTPS. */
  readonly secure?: boolean;
  /** The whole body, read up to BODY_LIMIT_BYTES; empty on routes that stream their body. */
  readonly body: Buffer;
  /**
   * Routes declared with `streamBody: true` get the body as a stream instead, with backpressure (uWS pauses
   * the socket while the stream is full). Answering before it has been read to the end drops the rest.
   */
  readonly bodyStream?: import('node:stream').Readable;
  /** The matched route's pattern (e.g. /api/v1/jobs/:id), set by the router: the label of HTTP metrics. */
  route?: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Uint8Array;
  /** Stream bytes start..end (inclusive) of a file instead of `body` (downloads; never read whole into memory). */
  readonly file?: { readonly path: string; readonly start: number; readonly end: number };
  /** Stream this body chunk by chunk (chunked encoding, with backpressure): long exports read page by page. */
  readonly stream?: import('node:stream').Readable;
}

export interface Auth {
  readonly user: User;
  /** The sign-in session's id, or `key:<apiKeyId>` for an API key: what closes the credential's sockets. */
  readonly sessionId: string;
  readonly via: 'bearer' | 'cookie' | 'apikey';
}

export interface RouteContext {
  readonly req: HttpRequest;
  readonly params: Readonly<Record<string, string>>;
  /** Present on routes declared with `auth: 'user' | 'admin'`. */
  readonly auth: Auth | undefined;
}

export type Access = 'public' | 'user' | 'admin';

/** OpenAPI operation fragment carried by each route; the document is generated from the route table. */
export interface RouteDoc {
  readonly summary: string;
  readonly tags: readonly string[];
  readonly description?: string;
  readonly requestBody?: Record<string, unknown>;
  readonly parameters?: readonly Record<string, unknown>[];
  /** status → description or full response object */
  readonly responses: Readonly<Record<string, string | Record<string, unknown>>>;
}

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `/api/v1/things/:id` */
  readonly path: string;
  readonly access: Access;
  readonly handler: (ctx: RouteContext) => Promise<HttpResponse>;
  /** The handler reads the body itself from `req.bodyStream` (uploads); no body limit applies. */
  readonly streamBody?: boolean;
  /** Omitted from the OpenAPI document (static files, the docs page itself). */
  readonly doc?: RouteDoc;
  /** False for routes an API key may not call (managing keys, the account): a signed-in session only. */
  readonly apiKey?: false;
}
