/**
 * A pipeline as a client asks for it (API.md "Models and pipelines"): the model, an optional classifier on
 * each detection's crop, class / score / count filters, zones and tracking. Read from a JSON body or WS
 * message (`specFromJson`) or a query string (`specFromQuery`, lists comma-separated, no zones), checked
 * field by field: a bad field is a VALIDATION_FAILED naming it. Every list is bounded before it is walked.
 */
import { AppError } from '../errors.js';

export interface Zone {
  readonly name: string;
  /** Points as fractions of the frame's width and height, 0-1. */
  readonly polygon: readonly (readonly [number, number])[];
  readonly mode: 'include' | 'exclude';
}

export interface PipelineSpec {
  readonly model?: string;
  readonly classifier?: string;
  readonly classifyLabels?: readonly string[];
  readonly classes?: readonly string[];
  readonly minScore?: number;
  readonly maxDetections?: number;
  readonly zones?: readonly Zone[];
  readonly track?: boolean;
}

export const LIMITS = { labels: 100, labelLength: 100, zones: 32, points: 64, zoneName: 64, maxDetections: 1000 } as const;

const bad = (field: string, msg: string): AppError => new AppError('VALIDATION_FAILED', `${field}: ${msg}`);

function modelName(v: unknown, field: string): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) throw bad(field, 'must be a model name (see GET /api/v1/models).');
  return v;
}

function labels(v: unknown, field: string): string[] {
  const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
  if (!Array.isArray(list) || list.length > LIMITS.labels) throw bad(field, `must be a list of at most ${LIMITS.labels} labels.`);
  for (const l of list) if (typeof l !== 'string' || l.length === 0 || l.length > LIMITS.labelLength) throw bad(field, `each label must be 1-${LIMITS.labelLength} characters.`);
  return list as string[];
}

function score(v: unknown, field: string): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1) throw bad(field, 'must be a number from 0 to 1.');
  return n;
}

function count(v: unknown, field: string): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > LIMITS.maxDetections) throw bad(field, `must be a whole number from 1 to ${LIMITS.maxDetections}.`);
  return n;
}

function bool(v: unknown, field: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw bad(field, 'must be true or false.');
}

export function parseZones(v: unknown): Zone[] {
  if (!Array.isArray(v)) throw bad('zones', 'must be a list of {name, polygon, mode}.');
  if (v.length > LIMITS.zones) throw bad('zones', `at most ${LIMITS.zones} zones.`);
  const names = new Set<string>();
  return v.map((z: unknown, i) => {
    const at = `zones[${i}]`;
    if (typeof z !== 'object' || z === null || Array.isArray(z)) throw bad(at, 'must be an object {name, polygon, mode}.');
    const { name, polygon, mode } = z as Record<string, unknown>;
    if (typeof name !== 'string' || name.trim() === '' || name.length > LIMITS.zoneName) throw bad(`${at}.name`, `must be 1-${LIMITS.zoneName} characters.`);
    if (names.has(name)) throw bad(`${at}.name`, `"${name}" is used twice.`);
    names.add(name);
    if (mode !== undefined && mode !== 'include' && mode !== 'exclude') throw bad(`${at}.mode`, 'must be "include" or "exclude".');
    if (!Array.isArray(polygon) || polygon.length < 3 || polygon.length > LIMITS.points) throw bad(`${at}.polygon`, `must have 3 to ${LIMITS.points} points.`);
    const points = polygon.map((p: unknown, k) => {
      if (!Array.isArray(p) || p.length !== 2 || !p.every((c) => typeof c === 'number' && Number.isFinite(c) && c >= 0 && c <= 1)) {
        throw bad(`${at}.polygon[${k}]`, 'must be [x, y] with both from 0 to 1 (fractions of the width and height).');
      }
      return [p[0] as number, p[1] as number] as const;
    });
    return { name, polygon: points, mode: mode ?? 'include' };
  });
}

const FIELDS = ['model', 'classifier', 'classifyLabels', 'classes', 'minScore', 'maxDetections', 'zones', 'track'] as const;

/** The pipeline fields of a JSON object (other fields are the caller's). Absent or null fields stay unset. */
export function specFromJson(o: Record<string, unknown>): PipelineSpec {
  const out: { -readonly [K in keyof PipelineSpec]: PipelineSpec[K] } = {};
  const has = (k: (typeof FIELDS)[number]): boolean => o[k] !== undefined && o[k] !== null;
  if (has('model')) out.model = modelName(o.model, 'model');
  if (has('classifier')) out.classifier = modelName(o.classifier, 'classifier');
  if (has('classifyLabels')) out.classifyLabels = labels(o.classifyLabels, 'classifyLabels');
  if (has('classes')) out.classes = labels(o.classes, 'classes');
  if (has('minScore')) out.minScore = score(o.minScore, 'minScore');
  if (has('maxDetections')) out.maxDetections = count(o.maxDetections, 'maxDetections');
  if (has('zones')) out.zones = parseZones(o.zones);
  if (has('track')) out.track = bool(o.track, 'track');
  return out;
}

/** The pipeline fields of a query string (`zones` only in JSON). Empty values count as absent. */
export function specFromQuery(q: URLSearchParams): PipelineSpec {
  const o: Record<string, unknown> = {};
  for (const k of FIELDS) {
    const v = q.get(k);
    if (v !== null && v !== '') o[k] = v;
  }
  if (o.zones !== undefined) throw bad('zones', 'are given in a JSON body or WebSocket message, not in the query string.');
  return specFromJson(o);
}
