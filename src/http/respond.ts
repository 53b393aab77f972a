import { AppError, statusOf, type ErrorCode } from '../errors.js';
import { stat } from 'node:fs/promises';
import type { HttpRequest, HttpResponse } from './types.js';

const JSON_TYPE = 'application/json; charset=utf-8';

export function json(status: number, body: unknown, headers: Record<string, string | readonly string[]> = {}): HttpResponse {
  return { status, headers: { 'content-type': JSON_TYPE, ...headers }, body: JSON.stringify(body) };
}

export const noContent = (headers: Record<string, string | readonly string[]> = {}): HttpResponse => ({ status: 204, headers });

export function errorResponse(code: ErrorCode, message: string, headers: Record<string, string> = {}): HttpResponse {
  return json(statusOf(code), { error: { code, message } }, headers);
}

export function fromAppError(err: AppError): HttpResponse {
  const headers: Record<string, string> = {};
  const retry = err.details['retryAfterS'];
  if (typeof retry === 'number') headers['retry-after'] = String(retry);
  const allow = err.details['allow'];
  if (typeof allow === 'string') headers['allow'] = allow;
  return errorResponse(err.code, err.message, headers);
}

/**
 * Parses a JSON object body. Wrong content type → 415, malformed → 400, not an object → 400.
 */
export function readJson(req: HttpRequest): Record<string, unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (req.body.length === 0) {
    throw new AppError('VALIDATION_FAILED', 'Request body is empty; send a JSON object.');
  }
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
    throw new AppError('UNSUPPORTED_MEDIA', `Send JSON with Content-Type: application/json (got ${type}).`);
  }
  let value: unknown;
  let nul: string | undefined;
  try {
    // NUL cannot be stored in PostgreSQL text: refuse it here, in every field at once, rather than as a 500 later.
    value = JSON.parse(req.body.toString('utf8'), (key, v: unknown) => {
      if (nul === undefined && (key.includes('\0') || (typeof v === 'string' && v.includes('\0')))) nul = key;
      return v;
    });
  } catch {
    throw new AppError('VALIDATION_FAILED', 'Request body is not valid JSON.');
  }
  if (nul !== undefined) throw new AppError('VALIDATION_FAILED', `${nul ? `"${nul.replace(/\0/g, '')}"` : 'The body'} holds a NUL character.`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AppError('VALIDATION_FAILED', 'Request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

/** `?limit=` with a default and a cap. */
export function limitParam(req: HttpRequest, def = 50, max = 200): number {
  const raw = req.query.get('limit');
  if (raw === null) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new AppError('VALIDATION_FAILED', `limit must be an integer from 1 to ${max}.`);
  }
  return n;
}

/** The `before` query parameter of a page (an ISO-8601 timestamp from the previous page's last item). */
export function beforeParam(req: HttpRequest): Date | undefined {
  const raw = req.query.get('before');
  if (raw === null) return undefined;
  const before = new Date(raw);
  // Years PostgreSQL holds and ISO-8601 writes with four digits; JavaScript takes ±275,760.
  const year = before.getUTCFullYear();
  if (Number.isNaN(before.getTime()) || year < 1 || year > 9999) {
    throw new AppError('VALIDATION_FAILED', 'before must be an ISO-8601 timestamp between the years 1 and 9999.');
  }
  return before;
}

/** `Range: bytes=a-b` (one range) → [start, end] inclusive; undefined for none; 'invalid' if unsatisfiable. */
export function parseRange(header: string | undefined, size: number): [number, number] | undefined | 'invalid' {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'invalid';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start > end || start >= size ? 'invalid' : [start, end];
}

/**
 * A private file download, streamed from disk with single byte ranges (206) and 416 for unsatisfiable ones.
 * `notFound` is the message when the file is missing. `download` names it for saving (else shown inline).
 */
export async function sendFile(
  req: HttpRequest,
  file: string,
  opts: { contentType: string; notFound: string; download?: string },
): Promise<HttpResponse> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) throw new AppError('NOT_FOUND', opts.notFound);
  const headers = {
    'content-type': opts.contentType,
    'accept-ranges': 'bytes',
    'cache-control': 'private, no-store',
    ...(opts.download ? { 'content-disposition': `attachment; filename="${opts.download.replace(/[^\w.-]/g, '_')}"` } : {}),
  };
  if (st.size === 0) return { status: 200, headers, body: '' };
  const range = parseRange(req.headers['range'], st.size);
  if (range === 'invalid') {
    return { ...errorResponse('VALIDATION_FAILED', 'The requested range is not satisfiable.'), status: 416, headers: { 'content-range': `bytes */${st.size}`, 'content-type': JSON_TYPE } };
  }
  if (range) {
    return { status: 206, headers: { ...headers, 'content-range': `bytes ${range[0]}-${range[1]}/${st.size}` }, file: { path: file, start: range[0], end: range[1] } };
  }
  return { status: 200, headers, file: { path: file, start: 0, end: st.size - 1 } };
}
