/**
 * A region of an RGB24 frame -> one normalised classifier input, written into a batch tensor at an offset:
 * bilinear resampling (half-pixel centres) from the region straight out of the decoded frame (no copy of
 * the crop, no second decode), stretched or letterboxed to the model's input, per-channel (v - mean) / std,
 * RGB, BGR or grey (0.299 R + 0.587 G + 0.114 B), NCHW or NHWC.
 */
import { computeLetterbox } from './letterbox.js';
import type { Normalisation } from './manifest.js';
import type { Region, RgbFrame } from './types.js';

export interface CropSpec {
  inputSize: [number, number];
  normalisation: Normalisation;
  resize: 'letterbox' | 'stretch';
  padValue: number;
}

/** Values per sample: channels x height x width. */
export const channelsOf = (n: Normalisation): number => (n.channelOrder === 'GRAY' ? 1 : 3);
export const sampleSize = (spec: CropSpec): number => channelsOf(spec.normalisation) * spec.inputSize[0] * spec.inputSize[1];

/** Grows a box by `padding` of its size on each side and clamps it to the frame; at least one pixel. */
export function padRegion(box: Region, padding: number, width: number, height: number): Region {
  const [x1, y1, x2, y2] = box;
  const px = (x2 - x1) * padding;
  const py = (y2 - y1) * padding;
  const a = Math.max(0, Math.min(width - 1, x1 - px));
  const b = Math.max(0, Math.min(height - 1, y1 - py));
  return [a, b, Math.max(a + 1, Math.min(width, x2 + px)), Math.max(b + 1, Math.min(height, y2 + py))];
}

export function writeCrop(frame: RgbFrame, region: Region, spec: CropSpec, out: Float32Array, offset: number): void {
  const [W, H] = spec.inputSize;
  const { mean, std, channelOrder, layout } = spec.normalisation;
  const C = channelsOf(spec.normalisation);
  const [rx1, ry1, rx2, ry2] = region;
  const lb = computeLetterbox(Math.max(1e-3, rx2 - rx1), Math.max(1e-3, ry2 - ry1), W, H, spec.resize);
  const { width: fw, height: fh, data } = frame;
  // Output channel k reads source channel src[k] (grey: all three, weighted), value * mul[k] + add[k].
  const src = channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const mul = [0, 1, 2].map((k) => 1 / (std[k] ?? 1));
  const add = [0, 1, 2].map((k) => -(mean[k] ?? 0) * (mul[k] ?? 1));
  const plane = W * H;
  // Element of (pixel p, channel k) = offset + p * pStride + k * kStride.
  const pStride = layout === 'NCHW' ? 1 : C;
  const kStride = layout === 'NCHW' ? plane : 1;
  if (lb.innerW !== W || lb.innerH !== H) {
    for (let k = 0; k < C; k++) {
      const v = spec.padValue * (mul[k] as number) + (add[k] as number);
      for (let p = 0; p < plane; p++) out[offset + p * pStride + k * kStride] = v;
    }
  }
  // Sampling tables: source byte offsets of the two neighbours and the weight, per output column.
  const innerW = lb.innerW;
  const x0 = new Int32Array(innerW);
  const x1 = new Int32Array(innerW);
  const wx = new Float32Array(innerW);
  for (let d = 0; d < innerW; d++) {
    const sx = Math.max(0, Math.min(fw - 1, rx1 + (d + 0.5) / lb.scaleX - 0.5));
    const a = Math.floor(sx);
    x0[d] = a * 3;
    x1[d] = Math.min(a + 1, fw - 1) * 3;
    wx[d] = sx - a;
  }
  const rowStride = fw * 3;
  const [s0, , s2] = src as [number, number, number]; // RGB or BGR: green stays in the middle
  const [m0, m1, m2] = mul as [number, number, number];
  const [a0, a1, a2] = add as [number, number, number];
  const gray = C === 1;
  for (let y = 0; y < lb.innerH; y++) {
    const sy = Math.max(0, Math.min(fh - 1, ry1 + (y + 0.5) / lb.scaleY - 0.5));
    const yy = Math.floor(sy);
    const r0 = yy * rowStride;
    const r1 = Math.min(yy + 1, fh - 1) * rowStride;
    const wy = sy - yy;
    let o = offset + ((lb.padY + y) * W + lb.padX) * pStride;
    for (let x = 0; x < innerW; x++, o += pStride) {
      const fx = wx[x] as number;
      const a = r0 + (x0[x] as number);
      const b = r0 + (x1[x] as number);
      const c = r1 + (x0[x] as number);
      const d = r1 + (x1[x] as number);
      const w11 = fx * wy;
      const w01 = fx - w11;
      const w10 = wy - w11;
      const w00 = 1 - fx - w10;
      const R = (data[a] as number) * w00 + (data[b] as number) * w01 + (data[c] as number) * w10 + (data[d] as number) * w11;
      const G = (data[a + 1] as number) * w00 + (data[b + 1] as number) * w01 + (data[c + 1] as number) * w10 + (data[d + 1] as number) * w11;
      const B = (data[a + 2] as number) * w00 + (data[b + 2] as number) * w01 + (data[c + 2] as number) * w10 + (data[d + 2] as number) * w11;
      if (gray) {
        out[o] = (0.299 * R + 0.587 * G + 0.114 * B) * m0 + a0;
      } else {
        out[o] = (s0 === 0 ? R : B) * m0 + a0;
        out[o + kStride] = G * m1 + a1;
        out[o + 2 * kStride] = (s2 === 2 ? B : R) * m2 + a2;
      }
    }
  }
}
