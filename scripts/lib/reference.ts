/**
 * The fixed inputs and the stored references for checking a converted model.
 *
 * `models/reference/<name>.json` holds, for each output, a sum, an absolute sum and values at
 * fixed positions, computed once by running the original tfjs graph model
 * (`@tensorflow/tfjs-converter` 4.22 on the pure-JS CPU backend) on `referenceInput()` (NanoDet,
 * NCHW) or `smoothImage(...)` (the emotion classifier, NHWC grey). A converted ONNX model must
 * reproduce them (`compareToReference`), so a wrong conversion fails loudly.
 */
export const REFERENCE_SHAPE = [1, 3, 416, 416] as const;

/** NanoDet's reference input: `smoothImage(3, 416, 416, 'NCHW')`. */
export function referenceInput(): Float32Array {
  const [, C, H, W] = REFERENCE_SHAPE;
  return smoothImage(C, H, W, 'NCHW');
}

/** A smooth, deterministic, image-like tensor (values roughly in [-2, 2], like a normalised photo). */
export function smoothImage(C: number, H: number, W: number, layout: 'NCHW' | 'NHWC', scale = 1): Float32Array {
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        out[layout === 'NCHW' ? (c * H + y) * W + x : (y * W + x) * C + c] =
          scale *
          (1.6 * Math.sin(0.031 * x + 0.017 * y * (c + 1) + c) * Math.cos(0.023 * y - 0.011 * x) +
            0.4 * Math.sin(0.2 * x * (c + 1)) * Math.sin(0.15 * y));
  return out;
}

/** Positions sampled from an output of `size` elements. */
export function samplePositions(size: number, count = 48): number[] {
  return Array.from({ length: count }, (_, k) => Math.floor(((k + 0.5) * size) / count));
}

export interface OutputReference {
  dims: number[];
  sum: number;
  absSum: number;
  samples: { index: number; value: number }[];
  top: { index: number; value: number }[];
}
export interface ModelReference {
  note: string;
  outputs: Record<string, OutputReference>;
}

export function summarise(dims: number[], data: Float32Array): OutputReference {
  let sum = 0;
  let absSum = 0;
  for (const v of data) {
    sum += v;
    absSum += Math.abs(v);
  }
  const order = Array.from(data.keys()).sort((a, b) => (data[b] ?? 0) - (data[a] ?? 0)).slice(0, 5);
  return {
    dims,
    sum,
    absSum,
    samples: samplePositions(data.length).map((index) => ({ index, value: data[index] ?? NaN })),
    top: order.map((index) => ({ index, value: data[index] ?? NaN })),
  };
}

/** Returns the list of mismatches (empty when the outputs agree with the reference). */
export function compareToReference(ref: ModelReference, actual: Record<string, { dims: readonly number[]; data: Float32Array }>): string[] {
  const problems: string[] = [];
  const close = (a: number, b: number, abs = 2e-3, rel = 1e-3): boolean => Math.abs(a - b) <= abs + rel * Math.abs(b);
  for (const [name, r] of Object.entries(ref.outputs)) {
    const a = actual[name];
    if (!a) {
      problems.push(`${name}: missing`);
      continue;
    }
    if (a.dims.join('x') !== r.dims.join('x')) problems.push(`${name}: dims ${a.dims.join('x')} != ${r.dims.join('x')}`);
    const s = summarise([...a.dims], a.data);
    if (!close(s.absSum, r.absSum, 1e-2 * r.dims.reduce((x, y) => x * y, 1) * 1e-3, 1e-4)) problems.push(`${name}: absSum ${s.absSum} != ${r.absSum}`);
    for (const { index, value } of r.samples) {
      const v = a.data[index] ?? NaN;
      if (!close(v, value)) problems.push(`${name}[${index}]: ${v} != ${value}`);
    }
    for (const { index, value } of r.top) {
      const v = a.data[index] ?? NaN;
      if (!close(v, value)) problems.push(`${name} top[${index}]: ${v} != ${value}`);
    }
  }
  return problems;
}

/** @deprecated name kept for the NanoDet tests: a `ModelReference`. */
export type NanodetReference = ModelReference;
