import { describe, expect, it } from 'vitest';
import { decodeNanodet } from '../../../src/inference/decoders/nanodet.js';
import { decodeYolo, yoloLayout } from '../../../src/inference/decoders/yolo.js';
import { yoloOutput } from '../../helpers/onnx-models.js';

describe('yoloLayout', () => {
  it('tells v8/v11 [1, 84, N] from v5 [1, N, 85]', () => {
    expect(yoloLayout([1, 84, 8400], 80)).toEqual({ n: 8400, attrs: 84, rowMajor: false, objectness: false });
    expect(yoloLayout([1, 25200, 85], 80)).toEqual({ n: 25200, attrs: 85, rowMajor: true, objectness: true });
    expect(yoloLayout([1, 8400, 84], 80)).toEqual({ n: 8400, attrs: 84, rowMajor: true, objectness: false });
  });

  it('refuses shapes that do not fit the labels', () => {
    expect(() => yoloLayout([1, 10, 8400], 80)).toThrow(/does not fit 80 classes/);
    expect(() => yoloLayout([1, 84, 8400], 80, 'v5')).toThrow(/YOLOv5/);
  });
});

describe('decodeYolo', () => {
  const boxes = [
    { cx: 100, cy: 50, w: 20, h: 10, scores: [0.1, 0.9], objectness: 0.5 },
    { cx: 10, cy: 10, w: 4, h: 4, scores: [0.3, 0.2], objectness: 0.9 },
  ];

  it('v8: best class per column, no objectness', () => {
    const out = decodeYolo(yoloOutput('v8', boxes, 2), { numClasses: 2, scoreThreshold: 0.25 });
    expect(out).toEqual([
      { x1: 90, y1: 45, x2: 110, y2: 55, score: expect.closeTo(0.9, 6) as number, classId: 1 },
      { x1: 8, y1: 8, x2: 12, y2: 12, score: expect.closeTo(0.3, 6) as number, classId: 0 },
    ]);
  });

  it('v5: score = objectness x class score', () => {
    const out = decodeYolo(yoloOutput('v5', boxes, 2), { numClasses: 2, scoreThreshold: 0.25 });
    expect(out.map((c) => [c.classId, Math.round(c.score * 1000) / 1000])).toEqual([
      [1, 0.45],
      [0, 0.27],
    ]);
  });
});

describe('decodeNanodet', () => {
  it('decodes the softmax expectation of the bins times the stride around the cell centre', () => {
    // 16x16 input, stride 8 only: 2x2 cells, 2 classes, regMax 3 (4 bins)
    const cls = new Float32Array(4 * 2);
    const reg = new Float32Array(4 * 16);
    cls[3 * 2 + 1] = 0.8; // cell 3 = (1, 1), class 1
    // one-hot-ish bins: left = 1, top = 2, right = 0, bottom = 3 (in strides)
    const oneHot = (k: number): number[] => [0, 1, 2, 3].map((b) => (b === k ? 50 : 0));
    reg.set([...oneHot(1), ...oneHot(2), ...oneHot(0), ...oneHot(3)], 3 * 16);
    const out = decodeNanodet(
      { cls: { dims: [1, 4, 2], data: cls }, reg: { dims: [1, 4, 16], data: reg } },
      { inputSize: [16, 16], numClasses: 2, regMax: 3, strides: [8], scoreThreshold: 0.5 },
    );
    expect(out).toHaveLength(1);
    const c = out[0];
    expect(c?.classId).toBe(1);
    expect(c?.score).toBeCloseTo(0.8, 6);
    // centre (12, 12)
    expect(c?.x1).toBeCloseTo(12 - 8, 3);
    expect(c?.y1).toBeCloseTo(12 - 16, 3);
    expect(c?.x2).toBeCloseTo(12, 3);
    expect(c?.y2).toBeCloseTo(12 + 24, 3);
  });

  it('reads a single concatenated [1, cells, C + 4 bins] output too', () => {
    const merged = new Float32Array(4 * 18);
    merged[0] = 0.7; // cell 0, class 0; bins all equal -> expectation 1.5
    const out = decodeNanodet({ out: { dims: [1, 4, 18], data: merged } }, { inputSize: [16, 16], numClasses: 2, regMax: 3, strides: [8], scoreThreshold: 0.5 });
    expect(out).toHaveLength(1);
    expect(out[0]?.x1).toBeCloseTo(4 - 12, 5);
    expect(out[0]?.y2).toBeCloseTo(4 + 12, 5);
  });

  it('fails clearly when the outputs do not match the strides', () => {
    expect(() => decodeNanodet({ x: { dims: [1, 5, 2], data: new Float32Array(10) } }, { inputSize: [16, 16], numClasses: 2, regMax: 3, strides: [8], scoreThreshold: 0.5 })).toThrow(/do not match stride 8/);
  });
});
