/**
 * The filters of a pipeline that apply to one image's detections, as far as they exist today: `classes` (labels
 * to keep), `minScore` (0-1), `maxDetections`. Parsed from a query string, validated with the field's name.
 */
import { AppError } from '../errors.js';
import type { Detection } from '../inference/types.js';

export interface DetectionFilter {
  readonly classes?: ReadonlySet<string>;
  readonly minScore?: number;
  readonly maxDetections?: number;
}

const MAX_CLASSES = 100;

export function filterFromQuery(q: URLSearchParams): DetectionFilter {
  const out: { classes?: Set<string>; minScore?: number; maxDetections?: number } = {};
  const classes = q.get('classes');
  if (classes !== null && classes !== '') {
    const list = classes.split(',').map((c) => c.trim()).filter(Boolean);
    if (list.length > MAX_CLASSES || list.some((c) => c.length > 100)) throw new AppError('VALIDATION_FAILED', `classes: at most ${MAX_CLASSES} labels of at most 100 characters.`);
    out.classes = new Set(list);
  }
  const minScore = q.get('minScore');
  if (minScore !== null && minScore !== '') {
    const n = Number(minScore);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new AppError('VALIDATION_FAILED', 'minScore must be a number from 0 to 1.');
    out.minScore = n;
  }
  const maxDetections = q.get('maxDetections');
  if (maxDetections !== null && maxDetections !== '') {
    const n = Number(maxDetections);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new AppError('VALIDATION_FAILED', 'maxDetections must be a whole number from 1 to 1000.');
    out.maxDetections = n;
  }
  return out;
}

/** Keeps the detections the filter lets through, best score first. */
export function applyFilter(objects: readonly Detection[], f: DetectionFilter): Detection[] {
  const kept = objects.filter((o) => (!f.classes || f.classes.has(o.label)) && (f.minScore === undefined || o.score >= f.minScore));
  kept.sort((a, b) => b.score - a.score);
  return f.maxDetections === undefined ? kept : kept.slice(0, f.maxDetections);
}
