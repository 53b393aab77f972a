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
  const rw = Math.max(1e-3, rx2 - rx1);
  const rh = Math.max(1e-3, ry2 - ry1);
  const lb = computeLetterbox(rw, rh, W, H, spec.resize);
  const { width: fw, height: fh, data } = frame;
  // Output channel k reads source channel src[k] (grey: all three, weighted).
  const src = channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const mul = [0, 1, 2].map((k) => 1 / (std[k] ?? 1));
  const add = [0, 1, 2].map((k) => -(mean[k] ?? 0) * (mul[k] ?? 1));
  const plane = W * H;
  const at = (pixel: number, k: number): number => offset + (layout === 'NCHW' ? k * plane + pixel : pixel * C + k);
  // Bars (letterbox only).
  if (lb.innerW !== W || lb.innerH !== H) {
    for (let p = 0; p < plane; p++) for (let k = 0; k < C; k++) out[at(p, k)] = spec.padValue * (mul[k] ?? 1) + (add[k] ?? 0);
  }
  const xs = new Float64Array(lb.innerW);
  for (let d = 0; d < lb.innerW; d++) xs[d] = Math.max(0, Math.min(fw - 1, rx1 + (d + 0.5) / lb.scaleX - 0.5));
  const rowStride = fw * 3;
  for (let y = 0; y < lb.innerH; y++) {
    const sy = Math.max(0, Math.min(fh - 1, ry1 + (y + 0.5) / lb.scaleY - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, fh - 1);
    const wy = sy - y0;
    for (let x = 0; x < lb.innerW; x++) {
      const sx = xs[x] as number;
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, fw - 1);
      const wx = sx - x0;
      const a = y0 * rowStride + x0 * 3;
      const b = y0 * rowStride + x1 * 3;
      const c = y1 * rowStride + x0 * 3;
      const d = y1 * rowStride + x1 * 3;
      const w00 = (1 - wx) * (1 - wy);
      const w01 = wx * (1 - wy);
      const w10 = (1 - wx) * wy;
      const w11 = wx * wy;
      const pixel = (lb.padY + y) * W + lb.padX + x;
      const v = (ch: number): number =>
        (data[a + ch] as number) * w00 + (data[b + ch] as number) * w01 + (data[c + ch] as number) * w10 + (data[d + ch] as number) * w11;
      if (C === 1) {
        out[at(pixel, 0)] = (0.299 * v(0) + 0.587 * v(1) + 0.114 * v(2)) * (mul[0] as number) + (add[0] as number);
      } else {
        for (let k = 0; k < 3; k++) out[at(pixel, k)] = v(src[k] as number) * (mul[k] as number) + (add[k] as number);
      }
    }
  }
}
