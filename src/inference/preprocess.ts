/**
 * RGB24 frame -> normalised network input, in one pass: bilinear resampling (half-pixel centres)
 * into the letterboxed region, per-channel (v - mean) / std, channel order and layout of the model.
 * The output Float32Array is allocated once per preprocessor and reused; the sampling tables are
 * kept for a few source sizes, and the letterbox bars are rewritten only when the placement changes. A frame
 * that already has the letterbox's inner size (the live decoder scales for the model) is only normalised.
 */
import { computeLetterbox, type Letterbox } from './letterbox.js';
import type { Normalisation } from './manifest.js';
import type { RgbFrame } from './types.js';

export interface PreprocessSpec {
  inputSize: [number, number];
  normalisation: Normalisation;
  resize: 'letterbox' | 'stretch';
  padValue: number;
}

export interface Preprocessor {
  /** The network input, `[1, 3, h, w]` or `[1, h, w, 3]`; rewritten by each `run`. */
  readonly input: Float32Array;
  readonly dims: readonly number[];
  run(frame: RgbFrame): Letterbox;
}

interface Tables {
  lb: Letterbox;
  x0: Int32Array;
  x1: Int32Array;
  fx: Float32Array;
  y0: Int32Array;
  y1: Int32Array;
  fy: Float32Array;
}

function axisTable(inner: number, scale: number, src: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(inner);
  const i1 = new Int32Array(inner);
  const f = new Float32Array(inner);
  for (let d = 0; d < inner; d++) {
    let s = (d + 0.5) / scale - 0.5;
    if (s < 0) s = 0;
    if (s > src - 1) s = src - 1;
    const a = Math.floor(s);
    i0[d] = a;
    i1[d] = Math.min(a + 1, src - 1);
    f[d] = s - a;
  }
  return { i0, i1, f };
}

export function createPreprocessor(spec: PreprocessSpec): Preprocessor {
  const [W, H] = spec.inputSize;
  const { mean, std, channelOrder, layout } = spec.normalisation;
  const input = new Float32Array(3 * W * H);
  const dims = layout === 'NCHW' ? [1, 3, H, W] : [1, H, W, 3];
  // Output channel k reads source channel src[k]; value = v * mul[k] + add[k].
  const src = channelOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const mul = std.map((s) => 1 / s);
  const add = mean.map((m, k) => -m * (mul[k] ?? 1));
  /** Sampling tables per source size (a few sizes: a detector may see frames and images of several). */
  const tables = new Map<string, Tables>();
  /** The letterbox region the bars were last written around. */
  let padded: Letterbox | undefined;

  const fillPad = (): void => {
    const v = spec.padValue;
    if (layout === 'NCHW') {
      for (let k = 0; k < 3; k++) input.fill(v * (mul[k] ?? 1) + (add[k] ?? 0), k * W * H, (k + 1) * W * H);
    } else {
      for (let p = 0; p < W * H; p++) for (let k = 0; k < 3; k++) input[p * 3 + k] = v * (mul[k] ?? 1) + (add[k] ?? 0);
    }
  };

  const tablesFor = (w: number, h: number): Tables => {
    const key = `${w}x${h}`;
    let t = tables.get(key);
    if (!t) {
      const lb = computeLetterbox(w, h, W, H, spec.resize);
      const xs = axisTable(lb.innerW, lb.scaleX, w);
      const ys = axisTable(lb.innerH, lb.scaleY, h);
      for (let d = 0; d < lb.innerW; d++) {
        xs.i0[d] = (xs.i0[d] ?? 0) * 3;
        xs.i1[d] = (xs.i1[d] ?? 0) * 3;
      }
      t = { lb, x0: xs.i0, x1: xs.i1, fx: xs.f, y0: ys.i0, y1: ys.i1, fy: ys.f };
      if (tables.size >= 8) tables.delete(tables.keys().next().value ?? '');
      tables.set(key, t);
    }
    const lb = t.lb;
    if (!padded || padded.padX !== lb.padX || padded.padY !== lb.padY || padded.innerW !== lb.innerW || padded.innerH !== lb.innerH) {
      fillPad();
      padded = lb;
    }
    return t;
  };

  // Where source channel R/G/B lands: element index = pixel * pixStride + chOff[channel].
  const plane = W * H;
  const pixStride = layout === 'NCHW' ? 1 : 3;
  const outIndexOf = (srcChannel: number): number => {
    const k = src.indexOf(srcChannel);
    return layout === 'NCHW' ? k * plane : k;
  };
  const oR = outIndexOf(0);
  const oG = outIndexOf(1);
  const oB = outIndexOf(2);
  const mR = mul[src.indexOf(0)] ?? 1;
  const mG = mul[src.indexOf(1)] ?? 1;
  const mB = mul[src.indexOf(2)] ?? 1;
  const aR = add[src.indexOf(0)] ?? 0;
  const aG = add[src.indexOf(1)] ?? 0;
  const aB = add[src.indexOf(2)] ?? 0;

  // Output planes (NCHW) or interleaved pixels (NHWC), each channel written through its own view so the hot
  // loops below index with one running offset; the closure's values are copied into locals first (V8 keeps
  // locals in registers, closure slots it reloads on every access).
  const outR = input.subarray(oR);
  const outG = input.subarray(oG);
  const outB = input.subarray(oB);

  const run = (frame: RgbFrame): Letterbox => {
    const { width: w, height: h, data } = frame;
    const { lb, x0, x1, fx, y0, y1, fy } = tablesFor(w, h);
    const rowStride = w * 3;
    const innerW = lb.innerW;
    const innerH = lb.innerH;
    const step = pixStride;
    const R = outR;
    const G = outG;
    const B = outB;
    const mr = mR;
    const mg = mG;
    const mb = mB;
    const ar = aR;
    const ag = aG;
    const ab = aB;
    if (innerW === w && innerH === h) {
      // Frame already at the model's scale (e.g. scaled by the ffmpeg decoder): no resampling.
      for (let y = 0; y < h; y++) {
        let o = ((lb.padY + y) * W + lb.padX) * step;
        let q = y * rowStride;
        for (let x = 0; x < w; x++, o += step, q += 3) {
          R[o] = data[q]! * mr + ar;
          G[o] = data[q + 1]! * mg + ag;
          B[o] = data[q + 2]! * mb + ab;
        }
      }
      return lb;
    }
    for (let y = 0; y < innerH; y++) {
      const r0 = y0[y]! * rowStride;
      const r1 = y1[y]! * rowStride;
      const wy = fy[y]!;
      let o = ((lb.padY + y) * W + lb.padX) * step;
      for (let x = 0; x < innerW; x++, o += step) {
        const c0 = x0[x]!;
        const c1 = x1[x]!;
        const wx = fx[x]!;
        const a = r0 + c0;
        const b = r0 + c1;
        const c = r1 + c0;
        const d = r1 + c1;
        // Two horizontal lerps and one vertical, per channel.
        let top = data[a]! + (data[b]! - data[a]!) * wx;
        let bottom = data[c]! + (data[d]! - data[c]!) * wx;
        R[o] = (top + (bottom - top) * wy) * mr + ar;
        top = data[a + 1]! + (data[b + 1]! - data[a + 1]!) * wx;
        bottom = data[c + 1]! + (data[d + 1]! - data[c + 1]!) * wx;
        G[o] = (top + (bottom - top) * wy) * mg + ag;
        top = data[a + 2]! + (data[b + 2]! - data[a + 2]!) * wx;
        bottom = data[c + 2]! + (data[d + 2]! - data[c + 2]!) * wx;
        B[o] = (top + (bottom - top) * wy) * mb + ab;
      }
    }
    return lb;
  };

  return { input, dims, run };
}
