/**
 * Matches method + path to a route, authenticates it, runs it and maps every failure to the contract's
 * error body. Knows nothing of uWebSockets.js: it takes and returns plain data.
 */
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { errorResponse, fromAppError } from './respond.js';
import type { Auth, HttpRequest, HttpResponse, Route } from './types.js';

interface Compiled {
  readonly route: Route;
  readonly parts: readonly string[];
}

export interface Authenticator {
  /** Resolves the caller from Bearer header or cookie; null when anonymous. Throws for a forbidden origin. */
  authenticate(req: HttpRequest): Promise<(Auth & { refreshCookie?: string }) | null>;
}

export class Router {
  readonly #routes: Compiled[] = [];

  constructor(
    private readonly authenticator: Authenticator,
    private readonly logger: Logger,
  ) {}

  add(...routes: Route[]): this {
    for (const route of routes) {
      const parts = route.path.split('/').filter(Boolean);
      if (this.#routes.some((c) => c.route.method === route.method && c.route.path === route.path)) {
        throw new Error(`Duplicate route ${route.method} ${route.path}`);
      }
      this.#routes.push({ route, parts });
    }
    return this;
  }

  /** Whether the route for this request reads its body as a stream (decided before the body is read). */
  streamsBody(method: string, path: string): boolean {
    const segs = path.split('/').filter(Boolean);
    let decoded: string[];
    try {
      decoded = segs.map((s) => decodeURIComponent(s));
    } catch {
      return false;
    }
    return this.#routes.some((c) => c.route.streamBody === true && c.route.method === method && match(c.parts, decoded) !== null);
  }

  routes(): readonly Route[] {
    return this.#routes.map((c) => c.route);
  }

  async handle(req: HttpRequest): Promise<HttpResponse> {
    try {
      return await this.#dispatch(req);
    } catch (err) {
      if (isAppError(err)) return fromAppError(err);
      if (err instanceof Error && err.name === 'ClientGone') {
        // Nobody is left to answer; a cut-off upload is ordinary, not an error of ours.
        this.logger.info({ reqId: req.id, method: req.method, path: req.path }, 'request body cut off: the client went away');
        return errorResponse('VALIDATION_FAILED', 'The request body was cut off.');
      }
      this.logger.error({ err, reqId: req.id, method: req.method, path: req.path }, 'unhandled error');
      return errorResponse('INTERNAL', 'Something went wrong on our side; the error was logged.');
    }
  }

  async #dispatch(req: HttpRequest): Promise<HttpResponse> {
    const segs = req.path.split('/').filter(Boolean);
    let decoded: string[];
    try {
      decoded = segs.map((s) => decodeURIComponent(s));
    } catch {
      throw new AppError('VALIDATION_FAILED', 'The path is not valid URL encoding.');
    }
    assertPlainText(decoded, req.query);
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const allowed = new Set<string>();
    for (const c of this.#routes) {
      const params = match(c.parts, decoded);
      if (!params) continue;
      if (c.route.method !== method) {
        if (c.parts.at(-1) !== '*') allowed.add(c.route.method); // catch-alls would make every path "answer GET"
        continue;
      }
      let auth: (Auth & { refreshCookie?: string }) | null = null;
      req.route = c.route.path;
      assertIds(params);
      if (c.route.access !== 'public') {
        auth = await this.authenticator.authenticate(req);
        if (!auth) throw new AppError('UNAUTHENTICATED', 'Sign in first: send a Bearer token or the session cookie.');
        if (auth.via === 'apikey' && c.route.apiKey === false) {
          throw new AppError('FORBIDDEN', 'API keys cannot manage API keys or the account; sign in to do this.');
        }
        if (c.route.access === 'admin' && auth.user.role !== 'admin') {
          throw new AppError('FORBIDDEN', 'This needs an administrator account.');
        }
      }
      const res = await c.route.handler({ req, params, auth: auth ?? undefined });
      if (auth?.refreshCookie) {
        const existing = res.headers?.['set-cookie'];
        return { ...res, headers: { ...res.headers, 'set-cookie': existing ?? auth.refreshCookie } };
      }
      return res;
    }
    if (allowed.size > 0) {
      const allow = [...allowed].join(', ');
      // The contract's error list has no 405: answer NOT_FOUND, with the methods that do exist in `Allow`.
      throw new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}; it answers ${allow}.`, { allow });
    }
    throw new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}.`);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Every object id in a path (`:id`, `:fileId`, ...) is a UUID; anything else is refused here, at the edge,
 * before it can reach SQL as a value PostgreSQL rejects.
 */
function assertIds(params: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(params)) {
    if ((name === 'id' || name.endsWith('Id')) && !UUID.test(value)) {
      throw new AppError('VALIDATION_FAILED', `${name} "${value.slice(0, 64)}" is not a valid id.`);
    }
  }
}

/** NUL cannot be stored in PostgreSQL text, and is never meaningful in a path or query: refuse it at the edge. */
function assertPlainText(segments: readonly string[], query: URLSearchParams): void {
  if (segments.some((s) => s.includes('\0'))) throw new AppError('VALIDATION_FAILED', 'The path holds a NUL character.');
  let n = 0;
  for (const [k, v] of query) {
    if (++n > 100) throw new AppError('VALIDATION_FAILED', 'The query string has more than 100 parameters.');
    if (k.includes('\0') || v.includes('\0')) throw new AppError('VALIDATION_FAILED', `The query parameter ${JSON.stringify(k.replace(/\0/g, ''))} holds a NUL character.`);
  }
}

function match(parts: readonly string[], segs: readonly string[]): Record<string, string> | null {
  const last = parts.at(-1);
  const wildcard = last === '*';
  if (wildcard ? segs.length < parts.length - 1 : segs.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === '*') {
      params['*'] = segs.slice(i).join('/');
      return params;
    }
    const s = segs[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = s;
    else if (p !== s) return null;
  }
  return params;
}
