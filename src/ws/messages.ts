/** Client → server WebSocket messages: parsed and validated into a discriminated union. */
import { AppError } from '../errors.js';
import { specFromJson, type PipelineSpec } from '../pipeline/spec.js';

export type ClientMessage =
  | { type: 'subscribe'; topic: 'jobs' | `live:${string}` }
  | { type: 'unsubscribe'; topic: 'jobs' | `live:${string}` }
  | { type: 'live.offer'; sdp: string; pipeline: PipelineSpec; budgetMs?: unknown; record?: unknown; store?: unknown }
  | { type: 'live.ice'; sessionId: string; candidate: unknown }
  | { type: 'live.stop'; sessionId: string }
  /** The changes, checked by the session (which fields may change is its business). */
  | { type: 'live.configure'; sessionId: string; changes: Record<string, unknown> };

const TYPES = ['subscribe', 'unsubscribe', 'live.offer', 'live.ice', 'live.stop', 'live.configure'] as const;

function bad(message: string): AppError {
  return new AppError('VALIDATION_FAILED', message);
}

function str(o: Record<string, unknown>, field: string, type: string): string {
  const v = o[field];
  if (typeof v !== 'string' || v === '') throw bad(`${type} needs "${field}" as a non-empty string.`);
  return v;
}

export function parseClientMessage(text: string): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad('Messages must be JSON objects.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('Messages must be JSON objects.');
  const o = value as Record<string, unknown>;
  const type = o['type'];
  if (typeof type !== 'string' || !(TYPES as readonly string[]).includes(type)) {
    throw bad(`Unknown message type ${JSON.stringify(type)}; expected one of ${TYPES.join(', ')}.`);
  }
  switch (type as (typeof TYPES)[number]) {
    case 'subscribe':
    case 'unsubscribe': {
      const topic = str(o, 'topic', type);
      if (topic !== 'jobs' && !/^live:[\w-]{1,64}$/.test(topic)) throw bad('topic must be "jobs" or "live:<sessionId>".');
      return { type: type as 'subscribe' | 'unsubscribe', topic: topic as 'jobs' | `live:${string}` };
    }
    case 'live.offer':
      return { type: 'live.offer', sdp: str(o, 'sdp', type), pipeline: specFromJson(o), budgetMs: o['budgetMs'], record: o['record'], store: o['store'] };
    case 'live.ice':
      if (o['candidate'] === undefined) throw bad('live.ice needs "candidate".');
      return { type: 'live.ice', sessionId: str(o, 'sessionId', type), candidate: o['candidate'] };
    case 'live.stop':
      return { type: 'live.stop', sessionId: str(o, 'sessionId', type) };
    case 'live.configure': {
      const { type: _t, sessionId: _s, ...changes } = o;
      return { type: 'live.configure', sessionId: str(o, 'sessionId', type), changes };
    }
  }
}
