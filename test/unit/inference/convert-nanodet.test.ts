import { describe, expect, it } from 'vitest';
import { foldPadsIntoConvs, halfToFloat, simplifyTransposes } from '../../../scripts/convert-nanodet.js';
import { node } from '../../../scripts/lib/onnx-builder.js';
import { compareToReference, summarise, type NanodetReference } from '../../../scripts/lib/reference.js';

describe('halfToFloat', () => {
  it('decodes normal, subnormal, zero, infinite and NaN halves', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x0000)).toBe(0);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(halfToFloat(0x7bff)).toBe(65504);
  });
});

const perm = (n: { attribute?: { ints?: unknown[] | null }[] | null }): number[] => (n.attribute?.[0]?.ints ?? []).map(Number);

describe('simplifyTransposes', () => {
  it('removes NHWC->NCHW->NHWC round trips and composes the rest', () => {
    const nodes = [
      node('Transpose', ['x'], ['a'], { perm: [0, 2, 3, 1] }),
      node('Transpose', ['a'], ['b'], { perm: [0, 3, 1, 2] }), // identity with the first
      node('Relu', ['b'], ['c']),
      node('Transpose', ['c'], ['d'], { perm: [0, 2, 3, 1] }),
      node('Transpose', ['d'], ['e'], { perm: [0, 2, 1, 3] }),
      node('Identity', ['e'], ['out']),
    ];
    const out = simplifyTransposes(nodes, new Set(['out']));
    expect(out.map((n) => n.opType)).toEqual(['Relu', 'Transpose', 'Identity']);
    expect(out[0]?.input).toEqual(['x']);
    // (0,2,3,1) then (0,2,1,3) = (0,3,2,1)
    expect(perm(out[1] ?? {})).toEqual([0, 3, 2, 1]);
  });
});

describe('foldPadsIntoConvs', () => {
  it('moves a zero H/W padding into the Conv that reads it', () => {
    const nodes = [node('Pad', ['x', 'p'], ['xp'], { mode: 'constant' }), node('Conv', ['xp', 'w'], ['y'], { pads: [0, 0, 0, 0] })];
    const out = simplifyTransposes(foldPadsIntoConvs(nodes, new Map([['p', [0, 0, 1, 2, 0, 0, 3, 4]]])), new Set(['y']));
    expect(out.map((n) => n.opType)).toEqual(['Conv']);
    expect(out[0]?.input).toEqual(['x', 'w']);
    expect((out[0]?.attribute?.[0]?.ints ?? []).map(Number)).toEqual([1, 2, 3, 4]);
  });
});

describe('compareToReference', () => {
  const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
  const ref: NanodetReference = { note: '', outputs: { cls_s8: summarise([1, 10, 100], data) } };

  it('accepts the same output and flags a perturbed, reshaped or missing one', () => {
    expect(compareToReference(ref, { cls_s8: { dims: [1, 10, 100], data } })).toEqual([]);
    const bad = data.map((v) => v * 1.05);
    expect(compareToReference(ref, { cls_s8: { dims: [1, 10, 100], data: bad } }).length).toBeGreaterThan(0);
    expect(compareToReference(ref, { cls_s8: { dims: [1, 100, 10], data } })).toContain('cls_s8: dims 1x100x10 != 1x10x100');
    expect(compareToReference(ref, {})).toEqual(['cls_s8: missing']);
  });
});
