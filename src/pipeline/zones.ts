/**
 * Zones: polygons in fractions of the frame. An object is in a zone when its box's bottom-centre point (where
 * it stands) is inside the polygon (even-odd rule). `ZoneWatch` turns each track's zones from frame to frame
 * into entered / left events.
 */
import type { Zone } from './spec.js';

export function pointInPolygon(x: number, y: number, polygon: readonly (readonly [number, number])[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i]!;
    const [xj, yj] = polygon[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The zones a box (pixels of a width x height frame) is in. */
export function zonesAt(box: readonly [number, number, number, number], width: number, height: number, zones: readonly Zone[]): Zone[] {
  const x = (box[0] + box[2]) / 2 / width;
  const y = box[3] / height;
  return zones.filter((z) => pointInPolygon(x, y, z.polygon));
}

export interface ZoneEvent {
  event: 'entered' | 'left';
  zone: string;
  trackId: number;
  label: string;
}

/** Remembers which zones each track is in; `update` returns what changed. */
export class ZoneWatch {
  readonly #inside = new Map<number, { label: string; zones: Set<string> }>();

  /** `tracked`: this frame's tracked objects; `ended`: tracks that ended (they leave every zone they were in). */
  update(tracked: readonly { trackId: number; label: string; zones: readonly string[] }[], ended: readonly number[] = []): ZoneEvent[] {
    const events: ZoneEvent[] = [];
    for (const t of tracked) {
      const before = this.#inside.get(t.trackId)?.zones ?? new Set<string>();
      const now = new Set(t.zones);
      for (const z of before) if (!now.has(z)) events.push({ event: 'left', zone: z, trackId: t.trackId, label: t.label });
      for (const z of now) if (!before.has(z)) events.push({ event: 'entered', zone: z, trackId: t.trackId, label: t.label });
      this.#inside.set(t.trackId, { label: t.label, zones: now });
    }
    for (const id of ended) {
      const was = this.#inside.get(id);
      if (!was) continue;
      for (const z of was.zones) events.push({ event: 'left', zone: z, trackId: id, label: was.label });
      this.#inside.delete(id);
    }
    return events;
  }

  /** Zones were replaced (live.configure): forget them; the next frame reports entries afresh. */
  reset(): void {
    this.#inside.clear();
  }
}
