import { describe, expect, it } from 'vitest';
import { blazefaceAnchors, decodeBlazeface } from '../../../src/inference/decoders/blazeface.js';

const LAYERS = [
  { grid: 16, anchors: 2 },
  { grid: 8, anchors: 6 },
];

describe('blazefaceAnchors', () => {
  const a = blazefaceAnchors(LAYERS);

  it('has 896 anchors: 16x16x2 then 8x8x6', () => {
    expect(a.length / 2).toBe(896);
  });

  it('puts centres at (cell + 0.5) / grid, repeated per anchor, row-major', () => {
    expect([a[0], a[1], a[2], a[3]]).toEqual([0.5 / 16, 0.5 / 16, 0.5 / 16, 0.5 / 16]);
    expect([a[4], a[5]]).toEqual([1.5 / 16, 0.5 / 16]); // next cell in the row
    expect([a[32 * 2], a[32 * 2 + 1]]).toEqual([0.5 / 16, 1.5 / 16]); // second row
    expect([a[511 * 2], a[511 * 2 + 1]]).toEqual([15.5 / 16, 15.5 / 16]);
    expect([a[512 * 2], a[512 * 2 + 1]]).toEqual([0.5 / 8, 0.5 / 8]);
    expect([a[895 * 2], a[895 * 2 + 1]]).toEqual([7.5 / 8, 7.5 / 8]);
  });
});

describe('decodeBlazeface', () => {
  it('decodes box = anchor * size + offset with a sigmoid score, per layer', () => {
    const s16 = new Float32Array(512).fill(-10);
    const b16 = new Float32Array(512 * 16);
    const s8 = new Float32Array(384).fill(-10);
    const b8 = new Float32Array(384 * 16);
    // anchor 33 = cell (0, 1) of the 16-grid, second anchor: centre (8, 24) in a 256 input
    s16[33] = 2;
    b16.set([4, -2, 40, 60], 33 * 16);
    // anchor 512 + 7 = cell (1, 0) of the 8-grid: centre (48, 16)
    s8[7] = 0;
    b8.set([0, 0, 10, 10], 7 * 16);
    const out = decodeBlazeface(
      {
        a: { dims: [1, 512, 1], data: s16 },
        b: { dims: [1, 384, 1], data: s8 },
        c: { dims: [1, 512, 16], data: b16 },
        d: { dims: [1, 384, 16], data: b8 },
      },
      { inputSize: [256, 256], layers: LAYERS, scoreThreshold: 0.4 },
    );
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ x1: 12 - 20, y1: 22 - 30, x2: 12 + 20, y2: 22 + 30, classId: 0 });
    expect(out[0]?.score).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
    expect(out[1]).toMatchObject({ x1: 43, y1: 11, x2: 53, y2: 21, score: 0.5 });
  });
});
