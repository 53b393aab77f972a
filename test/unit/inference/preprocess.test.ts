import { describe, expect, it } from 'vitest';
import type { Normalisation } from '../../../src/inference/manifest.js';
import { createPreprocessor, type PreprocessSpec } from '../../../src/inference/preprocess.js';

/** A preprocessor spec: identity normalisation, RGB, NCHW, letterbox, pad 0, unless overridden. */
const spec = (
  inputSize: [number, number],
  over: Partial<Omit<PreprocessSpec, 'inputSize' | 'normalisation'>> & { normalisation?: Partial<Normalisation> } = {},
): PreprocessSpec => ({
  inputSize,
  resize: over.resize ?? 'letterbox',
  padValue: over.padValue ?? 0,
  normalisation: { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'RGB', layout: 'NCHW', ...over.normalisation },
});

const frame = (w: number, h: number, rgb: (x: number, y: number) => [number, number, number]): { data: Uint8Array; width: number; height: number } => {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(rgb(x, y), (y * w + x) * 3);
  return { data, width: w, height: h };
};

describe('createPreprocessor', () => {
  it('copies a same-size frame, normalises, and writes NCHW in the model channel order (BGR)', () => {
    const p = createPreprocessor(spec([2, 2], { normalisation: { mean: [10, 20, 30], std: [2, 4, 5], channelOrder: 'BGR' } }));
    const lb = p.run(frame(2, 2, (x, y) => [100 + x, 150 + y, 200]));
    expect(lb).toMatchObject({ padX: 0, padY: 0, innerW: 2, innerH: 2 });
    expect(p.dims).toEqual([1, 3, 2, 2]);
    // plane 0 = blue: (200 - 10) / 2
    expect(Array.from(p.input.subarray(0, 4))).toEqual([95, 95, 95, 95]);
    // plane 1 = green: (150 + y - 20) / 4
    expect(Array.from(p.input.subarray(4, 8))).toEqual([32.5, 32.5, 32.75, 32.75]);
    // plane 2 = red: (100 + x - 30) / 5
    expect(Array.from(p.input.subarray(8, 12)).map((v) => Math.round(v * 1e4) / 1e4)).toEqual([14, 14.2, 14, 14.2]);
  });

  it('letterboxes with the pad value and upsamples bilinearly (NHWC, RGB)', () => {
    const p = createPreprocessor(spec([4, 4], { padValue: 7, normalisation: { layout: 'NHWC' } }));
    // 2x1 source (0 | 200) -> x2 -> inner 4x2 at rows 1-2, bars on rows 0 and 3
    const lb = p.run(frame(2, 1, (x) => (x === 0 ? [0, 0, 0] : [200, 200, 200])));
    expect(lb).toMatchObject({ padX: 0, padY: 1, innerW: 4, innerH: 2 });
    const px = (x: number, y: number): number => p.input[(y * 4 + x) * 3] ?? NaN;
    expect([px(0, 0), px(3, 0), px(0, 3), px(3, 3)]).toEqual([7, 7, 7, 7]);
    // half-pixel centres: source x = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped)
    expect([px(0, 1), px(1, 1), px(2, 1), px(3, 1)]).toEqual([0, 50, 150, 200]);
    expect([px(0, 2), px(1, 2), px(2, 2), px(3, 2)]).toEqual([0, 50, 150, 200]);
  });

  it('a frame already at the inner size is copied as is into the letterbox (fast path)', () => {
    const p = createPreprocessor(spec([4, 4], { padValue: 7, normalisation: { layout: 'NHWC' } }));
    const lb = p.run(frame(4, 2, (x, y) => [x * 10 + y, 100 + x, 200 - y]));
    expect(lb).toMatchObject({ padX: 0, padY: 1, innerW: 4, innerH: 2, scaleX: 1, scaleY: 1 });
    const at = (x: number, y: number): number[] => Array.from(p.input.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3));
    expect(at(3, 1)).toEqual([30, 103, 200]);
    expect(at(2, 2)).toEqual([21, 102, 199]);
    expect(at(2, 3)).toEqual([7, 7, 7]);
  });

  it('downsamples by averaging the two nearest source pixels at half-pixel centres', () => {
    const p = createPreprocessor(spec([2, 1], { resize: 'stretch' }));
    p.run(frame(4, 1, (x) => [x * 10, 0, 0]));
    // destination x=0 samples source x=0.5 -> 5; x=1 samples 2.5 -> 25
    expect(Array.from(p.input.subarray(0, 2))).toEqual([5, 25]);
  });

  it('rewrites the bars when the source size changes', () => {
    const p = createPreprocessor(spec([2, 2], { padValue: 1 }));
    p.run(frame(2, 1, () => [9, 9, 9]));
    expect(Array.from(p.input.subarray(0, 4))).toEqual([9, 9, 1, 1]);
    p.run(frame(2, 2, () => [5, 5, 5]));
    expect(Array.from(p.input.subarray(0, 4))).toEqual([5, 5, 5, 5]);
    p.run(frame(1, 2, () => [3, 3, 3]));
    expect(Array.from(p.input.subarray(0, 4))).toEqual([3, 1, 3, 1]);
  });
  it('matches a plain per-pixel bilinear reference on a noisy frame, inner heights of every remainder by two and three, both layouts', () => {
    // The reference: each channel of each output pixel on its own, straight from the definition (half-pixel
    // centres, clamped to the frame). The preprocessor shares weights across channels and does two rows a pass.
    const reference = (src: ReturnType<typeof frame>, innerW: number, innerH: number, x: number, y: number, k: number): number => {
      const at = (v: number, n: number): number => Math.min(Math.max(v, 0), n - 1);
      const sx = at(((x + 0.5) * src.width) / innerW - 0.5, src.width);
      const sy = at(((y + 0.5) * src.height) / innerH - 0.5, src.height);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(x0 + 1, src.width - 1);
      const y1 = Math.min(y0 + 1, src.height - 1);
      const v = (xx: number, yy: number): number => src.data[(yy * src.width + xx) * 3 + k] ?? NaN;
      const top = v(x0, y0) + (v(x1, y0) - v(x0, y0)) * (sx - x0);
      const bottom = v(x0, y1) + (v(x1, y1) - v(x0, y1)) * (sx - x0);
      return top + (bottom - top) * (sy - y0);
    };
    let seed = 7;
    const noise = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % 256;
    for (const [w, h, size] of [[37, 23, 16], [640, 480, 20], [11, 40, 9], [50, 35, 16]] as const) {
      for (const layout of ['NCHW', 'NHWC'] as const) {
        const src = frame(w, h, () => [noise(), noise(), noise()]);
        const p = createPreprocessor(spec([size, size], { normalisation: { layout, mean: [1, 2, 3], std: [2, 3, 4] } }));
        const lb = p.run(src);
        let worst = 0;
        for (let y = 0; y < lb.innerH; y++) {
          for (let x = 0; x < lb.innerW; x++) {
            for (let k = 0; k < 3; k++) {
              const i = layout === 'NCHW' ? k * size * size + (lb.padY + y) * size + lb.padX + x : ((lb.padY + y) * size + lb.padX + x) * 3 + k;
              const want = (reference(src, lb.innerW, lb.innerH, x, y, k) - [1, 2, 3][k]!) / [2, 3, 4][k]!;
              worst = Math.max(worst, Math.abs((p.input[i] ?? NaN) - want));
            }
          }
        }
        expect(`${w}x${h} ${layout} inner ${lb.innerW}x${lb.innerH}: ${worst < 1e-4 ? 'ok' : worst}`).toBe(`${w}x${h} ${layout} inner ${lb.innerW}x${lb.innerH}: ok`);
      }
    }
  });
});
