import { describe, expect, it } from 'vitest';
import { iou, nms, weightedNms } from '../../../src/inference/nms.js';
import type { Candidate } from '../../../src/inference/types.js';

const box = (x1: number, y1: number, x2: number, y2: number, score: number, classId = 0): Candidate => ({ x1, y1, x2, y2, score, classId });

describe('iou', () => {
  it('is 1 for identical boxes, 0 for disjoint ones, and exact for a known overlap', () => {
    expect(iou(box(0, 0, 10, 10, 1), box(0, 0, 10, 10, 1))).toBe(1);
    expect(iou(box(0, 0, 10, 10, 1), box(10, 0, 20, 10, 1))).toBe(0);
    // overlap 5x10 = 50, union 150
    expect(iou(box(0, 0, 10, 10, 1), box(5, 0, 15, 10, 1))).toBeCloseTo(50 / 150, 10);
  });
});

describe('nms', () => {
  const cands = [box(0, 0, 10, 10, 0.6), box(1, 1, 11, 11, 0.9), box(50, 50, 60, 60, 0.5), box(1, 0, 11, 10, 0.8, 1)];

  it('keeps the best of overlapping boxes of a class, sorted by score', () => {
    const kept = nms(cands, { iouThreshold: 0.5, maxDetections: 10 });
    expect(kept.map((c) => c.score)).toEqual([0.9, 0.8, 0.5]);
  });

  it('is class-aware unless told otherwise', () => {
    expect(nms(cands, { iouThreshold: 0.5, maxDetections: 10, classAgnostic: true }).map((c) => c.score)).toEqual([0.9, 0.5]);
  });

  it('keeps boxes overlapping below the threshold and honours maxDetections', () => {
    expect(nms(cands, { iouThreshold: 0.95, maxDetections: 10 })).toHaveLength(4);
    expect(nms(cands, { iouThreshold: 0.95, maxDetections: 2 }).map((c) => c.score)).toEqual([0.9, 0.8]);
  });
});

describe('weightedNms', () => {
  it('averages a cluster weighted by score and keeps the best score', () => {
    const out = weightedNms([box(0, 0, 10, 10, 0.75), box(2, 2, 12, 12, 0.25), box(100, 100, 110, 110, 0.5)], { iouThreshold: 0.3, maxDetections: 10 });
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ score: 0.75, classId: 0 });
    expect(out[0]?.x1).toBeCloseTo(0.5, 10);
    expect(out[0]?.y2).toBeCloseTo(10.5, 10);
    expect(out[1]).toMatchObject({ x1: 100, y1: 100, x2: 110, y2: 110, score: 0.5 });
  });
});
