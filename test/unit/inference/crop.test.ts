import { describe, expect, it } from 'vitest';
import { padRegion, sampleSize, writeCrop, type CropSpec } from '../../../src/inference/crop.js';

/** A frame whose left half is one colour and right half another. */
function halves(w: number, h: number, left: number[], right: number[]): { data: Uint8Array; width: number; height: number } {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(x < w / 2 ? left : right, (y * w + x) * 3);
  return { data, width: w, height: h };
}

const spec = (o: Partial<CropSpec['normalisation']> & { resize?: CropSpec['resize'] }): CropSpec => ({
  inputSize: [4, 2],
  normalisation: { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'RGB', layout: 'NCHW', ...o },
  resize: o.resize ?? 'stretch',
  padValue: 7,
});

describe('writeCrop', () => {
  const frame = halves(100, 50, [200, 100, 10], [20, 40, 60]);

  it('cuts a region out of the frame into NCHW RGB at an offset, resampled to the input', () => {
    const s = spec({});
    const out = new Float32Array(5 + sampleSize(s)).fill(-1);
    writeCrop(frame, [60, 10, 100, 30], s, out, 5);
    expect(Array.from(out.subarray(0, 5))).toEqual([-1, -1, -1, -1, -1]);
    expect(Array.from(out.subarray(5))).toEqual([...new Array<number>(8).fill(20), ...new Array<number>(8).fill(40), ...new Array<number>(8).fill(60)]);
  });

  it('BGR and NHWC, normalised per channel', () => {
    const s = spec({ channelOrder: 'BGR', layout: 'NHWC', mean: [10, 20, 30], std: [2, 4, 5] });
    const out = new Float32Array(sampleSize(s));
    writeCrop(frame, [0, 0, 40, 50], s, out, 0);
    // Model channel 0 reads blue: (10 - 10) / 2, channel 1 green: (100 - 20) / 4, channel 2 red: (200 - 30) / 5.
    for (let p = 0; p < 8; p++) expect(Array.from(out.subarray(p * 3, p * 3 + 3))).toEqual([0, 20, 34]);
  });

  it('grey: 0.299 R + 0.587 G + 0.114 B, one channel', () => {
    const s = spec({ channelOrder: 'GRAY', layout: 'NHWC' });
    const out = new Float32Array(sampleSize(s));
    expect(out.length).toBe(8);
    writeCrop(frame, [0, 0, 40, 50], s, out, 0);
    for (const v of out) expect(v).toBeCloseTo(0.299 * 200 + 0.587 * 100 + 0.114 * 10, 3);
  });

  it('letterbox keeps the aspect ratio and fills the bars with padValue', () => {
    const s = spec({ resize: 'letterbox' });
    const out = new Float32Array(sampleSize(s));
    writeCrop(frame, [60, 0, 80, 40], s, out, 0); // 20x40 into 4x2: a 1x2 picture in the middle column
    const red = Array.from(out.subarray(0, 8));
    expect(red.filter((v) => v === 7)).toHaveLength(6);
    expect(red.filter((v) => v === 20)).toHaveLength(2);
  });

  it('padRegion grows a box by a fraction of its size and keeps it in the frame', () => {
    expect(padRegion([10, 10, 30, 50], 0.1, 100, 100)).toEqual([8, 6, 32, 54]);
    expect(padRegion([0, 0, 100, 100], 0.5, 100, 100)).toEqual([0, 0, 100, 100]);
  });
});
