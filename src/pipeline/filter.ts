/**
 * The filter stages, pure (detections in, new detections out):
 * - `selectClasses`: `classes` (labels to keep) and `minScore`;
 * - `markZones`: each detection gets the names of the zones its bottom-centre point is in;
 * - `applyZones`: an object must be inside an include zone when there is one, and in no exclude zone;
 * - `limit`: the `maxDetections` best scores.
 * The tracker runs between `selectClasses` and `applyZones`, so a track sees its object outside the zones too.
 */
import type { Detection } from '../inference/types.js';
import type { PipelineSpec, Zone } from './spec.js';
import { zonesAt } from './zones.js';

export type FilterSpec = Pick<PipelineSpec, 'classes' | 'minScore' | 'maxDetections' | 'zones'>;

export function selectClasses(objects: readonly Detection[], f: FilterSpec): Detection[] {
  const classes = f.classes && f.classes.length > 0 ? new Set(f.classes) : undefined;
  return objects.filter((o) => (!classes || classes.has(o.label)) && (f.minScore === undefined || o.score >= f.minScore));
}

/** `width`/`height`: the frame the boxes are in. Without zones the detections are returned as they are. */
export function markZones(objects: readonly Detection[], zones: readonly Zone[] | undefined, width: number, height: number): Detection[] {
  if (!zones || zones.length === 0) return [...objects];
  return objects.map((o) => ({ ...o, zones: zonesAt(o.box, width, height, zones).map((z) => z.name) }));
}

export function applyZones(objects: readonly Detection[], zones: readonly Zone[] | undefined): Detection[] {
  if (!zones || zones.length === 0) return [...objects];
  const mode = new Map(zones.map((z) => [z.name, z.mode]));
  const includes = zones.some((z) => z.mode === 'include');
  return objects.filter((o) => {
    const inside = o.zones ?? [];
    if (inside.some((n) => mode.get(n) === 'exclude')) return false;
    return !includes || inside.some((n) => mode.get(n) === 'include');
  });
}

/** Best score first, at most `max`. */
export function limit(objects: readonly Detection[], max: number | undefined): Detection[] {
  const sorted = [...objects].sort((a, b) => b.score - a.score);
  return max === undefined ? sorted : sorted.slice(0, max);
}

/** Every filter at once, for a single image (no tracker in between). */
export function applyFilter(objects: readonly Detection[], f: FilterSpec, width = 1, height = 1): Detection[] {
  return limit(applyZones(markZones(selectClasses(objects, f), f.zones, width, height), f.zones), f.maxDetections);
}
