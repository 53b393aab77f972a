/**
 * MediaPipe BlazeFace decoding. Anchors are laid out layer by layer, cell by cell (row-major), with
 * `anchors` anchors per cell, centred at ((x + 0.5) / grid, (y + 0.5) / grid). Each box row holds
 * (dx, dy, w, h, 6 key points) in input pixels: centre = anchor * inputSize + (dx, dy), score = sigmoid.
 */
import type { Candidate, Outputs, OutputTensor } from '../types.js';

export interface BlazefaceLayer {
  grid: number;
  anchors: number;
}

/** Anchor centres as interleaved (x, y) pairs in [0, 1]. 16x16x2 + 8x8x6 = 896 anchors by default. */
export function blazefaceAnchors(layers: readonly BlazefaceLayer[]): Float32Array {
  const total = layers.reduce((n, l) => n + l.grid * l.grid * l.anchors, 0);
  const out = new Float32Array(total * 2);
  let k = 0;
  for (const { grid, anchors } of layers) {
    for (let y = 0; y < grid; y++) {
      for (let x = 0; x < grid; x++) {
        for (let a = 0; a < anchors; a++) {
          out[k++] = (x + 0.5) / grid;
          out[k++] = (y + 0.5) / grid;
        }
      }
    }
  }
  return out;
}

const rows = (t: OutputTensor): number => (t.dims.length >= 2 ? (t.dims[t.dims.length - 2] ?? 0) : 0);
const width = (t: OutputTensor): number => t.dims[t.dims.length - 1] ?? 0;

/**
 * Pairs score and box tensors per layer: either one (scores, boxes) pair per layer, matched by row
 * count, or a single pair covering all anchors.
 */
export function blazefaceTensors(outputs: Outputs, layers: readonly BlazefaceLayer[]): { scores: OutputTensor; boxes: OutputTensor }[] {
  const all = Object.values(outputs);
  const scores = all.filter((t) => width(t) === 1);
  const boxes = all.filter((t) => width(t) >= 4);
  const total = layers.reduce((n, l) => n + l.grid * l.grid * l.anchors, 0);
  const sAll = scores.find((t) => rows(t) === total);
  const bAll = boxes.find((t) => rows(t) === total);
  if (sAll && bAll) return [{ scores: sAll, boxes: bAll }];
  return layers.map((l) => {
    const n = l.grid * l.grid * l.anchors;
    const s = scores.find((t) => rows(t) === n);
    const b = boxes.find((t) => rows(t) === n);
    if (!s || !b) throw new Error(`BlazeFace outputs do not match the anchor layout (no ${n}-row score/box tensors)`);
    return { scores: s, boxes: b };
  });
}

export interface BlazefaceDecodeOptions {
  inputSize: [number, number];
  layers: readonly BlazefaceLayer[];
  scoreThreshold: number;
  anchors?: Float32Array;
}

/** Candidates above the score threshold, in input pixels, class 0. */
export function decodeBlazeface(outputs: Outputs, opts: BlazefaceDecodeOptions): Candidate[] {
  const [W, H] = opts.inputSize;
  const anchors = opts.anchors ?? blazefaceAnchors(opts.layers);
  const thr = Math.min(Math.max(opts.scoreThreshold, 1e-6), 1 - 1e-6);
  const logitThr = Math.log(thr / (1 - thr));
  const out: Candidate[] = [];
  let anchor = 0;
  for (const { scores, boxes } of blazefaceTensors(outputs, opts.layers)) {
    const n = rows(scores);
    const bw = width(boxes);
    for (let i = 0; i < n; i++, anchor++) {
      const logit = scores.data[i] as number;
      if (!(logit >= logitThr)) continue;
      const score = 1 / (1 + Math.exp(-Math.max(-100, Math.min(100, logit))));
      const o = i * bw;
      const cx = (anchors[anchor * 2] as number) * W + (boxes.data[o] as number);
      const cy = (anchors[anchor * 2 + 1] as number) * H + (boxes.data[o + 1] as number);
      const w = boxes.data[o + 2] as number;
      const h = boxes.data[o + 3] as number;
      out.push({ x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2, score, classId: 0 });
    }
  }
  return out;
}
