import { AppError, statusOf, type ErrorCode } from '../errors.js';
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
  try {
    value = JSON.parse(req.body.toString('utf8'));
  } catch {
    throw new AppError('VALIDATION_FAILED', 'Request body is not valid JSON.');
  }
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
