import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import type { Detection } from '../../../src/inference/types.js';
import { applyFilter } from '../../../src/pipeline/filter.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { specFromJson, specFromQuery } from '../../../src/pipeline/spec.js';
import { pointInPolygon } from '../../../src/pipeline/zones.js';

const det = (x: number, y: number, label = 'person', score = 0.9): Detection => ({ label, classId: 0, score, box: [x, y, x + 20, y + 40] });
const square = (x1: number, y1: number, x2: number, y2: number): [number, number][] => [[x1, y1], [x2, y1], [x2, y2], [x1, y2]];
const frame = { width: 400, height: 200, data: new Uint8Array(400 * 200 * 3) };

describe('zones', () => {
  it('point in polygon (even-odd), concave too', () => {
    const l: [number, number][] = [[0, 0], [1, 0], [1, 0.3], [0.3, 0.3], [0.3, 1], [0, 1]];
    expect(pointInPolygon(0.1, 0.9, l)).toBe(true);
    expect(pointInPolygon(0.9, 0.9, l)).toBe(false);
  });

  it('an object crossing a zone gives exactly one entered and one left event', async () => {
    const p = new Pipeline(specFromJson({ zones: [{ name: 'door', polygon: square(0.4, 0, 0.6, 1) }] }), {}, true);
    const events: string[] = [];
    for (let f = 0; f <= 40; f++) {
      const out = await p.process(frame, [det(10 + f * 9, 80)], f * 33);
      for (const z of out.zones) events.push(`${z.event}:${z.zone}:${z.trackId}`);
      // its bottom-centre x is (10 + 9f + 10) / 400
      const inside = (20 + f * 9) / 400 >= 0.4 && (20 + f * 9) / 400 <= 0.6;
      expect(out.objects[0]?.zones ?? []).toEqual(inside ? ['door'] : []);
    }
    expect(events).toEqual(['entered:door:1', 'left:door:1']);
  });

  it('include and exclude zones filter, then classes, minScore and maxDetections', () => {
    const objects = [det(10, 10), det(200, 10), det(300, 10, 'car'), det(210, 10, 'person', 0.2)];
    const zones = specFromJson({ zones: [{ name: 'right', polygon: square(0.5, 0, 1, 1) }, { name: 'carpark', polygon: square(0.7, 0, 1, 1), mode: 'exclude' }] }).zones;
    const kept = applyFilter(objects, { zones, minScore: 0.5 }, 400, 200);
    expect(kept.map((o) => o.box[0])).toEqual([200]);
    expect(applyFilter(objects, { classes: ['car'] }).map((o) => o.label)).toEqual(['car']);
    expect(applyFilter(objects, { maxDetections: 2 })).toHaveLength(2);
  });
});

describe('pipeline spec', () => {
  const fails = (f: () => unknown, field: string): void => {
    try {
      f();
      expect.unreachable('should have failed');
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe('VALIDATION_FAILED');
      expect((e as AppError).message.startsWith(field)).toBe(true);
    }
  };
  it('names the field of each bad input', () => {
    fails(() => specFromJson({ zones: [{ name: 'a', polygon: [[0, 0], [1, 1]] }] }), 'zones[0].polygon');
    fails(() => specFromJson({ zones: [{ name: 'a', polygon: [[0, 0], [1, 1], [1.5, 0]] }] }), 'zones[0].polygon[2]');
    fails(() => specFromJson({ zones: Array.from({ length: 33 }, (_, i) => ({ name: `z${i}`, polygon: square(0, 0, 1, 1) })) }), 'zones');
    fails(() => specFromJson({ zones: [{ name: 'a', polygon: Array.from({ length: 65 }, (_, i) => [i / 65, (i % 2) / 2]) }] }), 'zones[0].polygon');
    fails(() => specFromJson({ minScore: 1.5 }), 'minScore');
    fails(() => specFromQuery(new URLSearchParams('minScore=-0.1')), 'minScore');
    fails(() => specFromJson({ classifier: 'no such/model' }), 'classifier');
    fails(() => specFromJson({ zones: [{ name: 'a', polygon: square(0, 0, 1, 1) }, { name: 'a', polygon: square(0, 0, 1, 1) }] }), 'zones[1].name');
    expect(specFromQuery(new URLSearchParams('classes=cat,dog&minScore=0.5&track=false'))).toEqual({ classes: ['cat', 'dog'], minScore: 0.5, track: false });
  });
});
