/** WHIP (RFC 9725) as a client: POST an SDP offer to /api/v1/whip, DELETE the session's location to end it. */
import { errorFromResponse, StreamError } from './errors.js';

const HTTP_TIMEOUT_MS = 15_000;

export interface WhipParams {
  model?: string;
  budgetMs?: number;
  record?: boolean;
  store?: boolean;
  /** Pipeline fields that fit a query string (zones are set with live.configure). */
  classifier?: string;
  classes?: string[];
  minScore?: number;
  track?: boolean;
}

export interface WhipSession {
  sessionId: string;
  /** Absolute URL of the session resource (from the Location header). */
  location: string;
  /** The SDP answer. */
  sdp: string;
}

export function whipUrl(server: string, p: WhipParams): string {
  const u = new URL('/api/v1/whip', server);
  if (p.model !== undefined) u.searchParams.set('model', p.model);
  if (p.budgetMs !== undefined) u.searchParams.set('budgetMs', String(p.budgetMs));
  if (p.record !== undefined) u.searchParams.set('record', String(p.record));
  if (p.store !== undefined) u.searchParams.set('store', String(p.store));
  if (p.classifier) u.searchParams.set('classifier', p.classifier);
  if (p.classes) u.searchParams.set('classes', p.classes.join(','));
  if (p.minScore !== undefined) u.searchParams.set('minScore', String(p.minScore));
  if (p.track !== undefined) u.searchParams.set('track', String(p.track));
  return u.toString();
}

/**
 * Sends the offer; the server's refusal (401, 402, 404 for an unknown model, …) is thrown as a StreamError. A
 * full server of a cluster answers 307 with another server's URL: the offer is sent there, with the token
 * (fetch itself would drop the Authorization header on a redirect to another origin), up to 3 times.
 */
export async function whipOffer(server: string, token: string, offerSdp: string, p: WhipParams, signal?: AbortSignal): Promise<WhipSession> {
  let url = whipUrl(server, p);
  let res: Response;
  for (let hops = 0; ; hops++) {
    res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp', accept: 'application/sdp' },
      body: offerSdp,
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(HTTP_TIMEOUT_MS)]) : AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    const next = res.headers.get('location');
    if ((res.status !== 307 && res.status !== 308) || !next || hops >= 3) break;
    await res.body?.cancel();
    url = new URL(next, url).toString();
  }
  if (res.status !== 201) throw await errorFromResponse(res, 'WHIP offer');
  const location = res.headers.get('location');
  if (!location) throw new StreamError('BAD_RESPONSE', 'WHIP answer without a Location header');
  const sessionUrl = new URL(location, url); // relative to where a redirect (a full server's 307) led
  const sessionId = decodeURIComponent(sessionUrl.pathname.split('/').filter(Boolean).pop() ?? '');
  if (!sessionId) throw new StreamError('BAD_RESPONSE', `WHIP Location "${location}" names no session`);
  return { sessionId, location: sessionUrl.toString(), sdp: await res.text() };
}

/** Ends the session; a session already gone (404) counts as ended. */
export async function whipDelete(location: string, token: string): Promise<void> {
  const res = await fetch(location, { method: 'DELETE', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  if (res.status === 404) {
    await res.body?.cancel();
    return;
  }
  if (!res.ok) throw await errorFromResponse(res, 'WHIP delete');
  await res.body?.cancel();
}
