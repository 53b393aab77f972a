/**
 * Who is calling: a Bearer token (apps, scripts) or the HttpOnly session cookie (browser). Cookie-borne
 * requests that change state must come from our own origin (Origin / Sec-Fetch-Site), which stops CSRF;
 * bearer requests cannot be forged by another site and need no such check.
 */
import { AppError } from '../errors.js';
import type { Db } from '../db/schema.js';
import { keySocketId, looksLikeApiKey, validateApiKey } from '../accounts/api-keys.js';
import { validateSessionToken } from '../accounts/sessions.js';
import type { Authenticator } from './router.js';
import type { Auth, HttpRequest } from './types.js';

export const SESSION_COOKIE = 'lookout_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(/;\s*/)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * Whether the session cookie gets `Secure`: always with COOKIE_SECURE, and for a request that came over HTTPS to a
 * trusted proxy (TRUST_PROXY and `X-Forwarded-Proto: https`), so that the cookie of an HTTPS origin never travels
 * over plain HTTP.
 */
export function cookieSecureFor(req: HttpRequest, cfg: { cookieSecure: boolean; trustProxy: boolean }): boolean {
  if (cfg.cookieSecure || req.secure === true) return true;
  const proto = cfg.trustProxy ? req.headers['x-forwarded-proto']?.split(',')[0]?.trim().toLowerCase() : undefined;
  return proto === 'https';
}

export function sessionCookie(token: string, expiresAt: Date, secure: boolean): string {
  const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure ? '; Secure' : ''}`;
}

/** The credential a request carries, if any. A malformed Authorization header is an error, not anonymity. */
export function credentialOf(req: HttpRequest): { token: string; via: 'bearer' | 'cookie' } | null {
  const apiKey = req.headers['x-api-key'];
  if (apiKey !== undefined) return { token: apiKey.trim(), via: 'bearer' };
  const authz = req.headers['authorization'];
  if (authz !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(authz.trim());
    if (!m) throw new AppError('UNAUTHENTICATED', 'The Authorization header must be "Bearer <token>".');
    return { token: m[1]!, via: 'bearer' };
  }
  const cookie = parseCookies(req.headers['cookie']).get(SESSION_COOKIE);
  return cookie ? { token: cookie, via: 'cookie' } : null;
}

/**
 * True when the request provably comes from a page on this server (or an allowed origin). Browsers send
 * Sec-Fetch-Site and/or Origin on every state-changing fetch; a request with neither is refused.
 */
export function isSameOrigin(req: HttpRequest, allowedOrigins: readonly string[], trustProxy = false): boolean {
  const site = req.headers['sec-fetch-site'];
  const origin = req.headers['origin'];
  if (origin !== undefined && origin !== 'null') {
    if (allowedOrigins.includes(origin)) return true;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return false;
    }
    const expected = (trustProxy ? req.headers['x-forwarded-host'] : undefined) ?? req.headers['host'];
    return host === expected;
  }
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  return false;
}

export function createAuthenticator(deps: {
  db: Db;
  sessionTtlDays: number;
  cookieSecure: boolean;
  allowedOrigins: readonly string[];
  trustProxy: boolean;
}): Authenticator & { authenticateUpgrade(req: HttpRequest): Promise<Auth | null> } {
  const resolve = async (req: HttpRequest, checkOrigin: boolean): Promise<(Auth & { refreshCookie?: string }) | null> => {
    const cred = credentialOf(req);
    if (!cred) return null;
    if (cred.via === 'cookie' && checkOrigin && !isSameOrigin(req, deps.allowedOrigins, deps.trustProxy)) {
      throw new AppError('FORBIDDEN', 'Cookie-authenticated requests that change state must come from this site.');
    }
    if (looksLikeApiKey(cred.token)) {
      if (cred.via !== 'bearer') return null; // a key is never a cookie
      const key = await validateApiKey(deps.db, cred.token);
      return key ? { user: key.user, sessionId: keySocketId(key.keyId), via: 'apikey' } : null;
    }
    const session = await validateSessionToken(deps.db, cred.token, deps.sessionTtlDays);
    if (!session) return null;
    const auth: Auth & { refreshCookie?: string } = { user: session.user, sessionId: session.sessionId, via: cred.via };
    if (cred.via === 'cookie' && session.extended) {
      auth.refreshCookie = sessionCookie(cred.token, session.expiresAt, cookieSecureFor(req, deps));
    }
    return auth;
  };
  return {
    authenticate: (req) => resolve(req, !SAFE_METHODS.has(req.method)),
    // A WebSocket upgrade is a GET, but it opens a channel that can act: always check the origin.
    authenticateUpgrade: (req) => resolve(req, true),
  };
}
