/**
 * NanoDet (GFL head) decoding. Per stride s the feature map has ceil(W/s) x ceil(H/s) cells in
 * row-major order, centred at ((x + 0.5) s, (y + 0.5) s). Each cell has class scores (already
 * sigmoid) and 4 distributions of regMax + 1 bins (left, top, right, bottom); a distance is the
 * softmax expectation over the bins times the stride.
 *
 * Accepted outputs: one (scores [1, n, C], distributions [1, n, 4 (regMax + 1)]) pair per stride,
 * matched by cell count, or a single [1, sum n, C + 4 (regMax + 1)] tensor.
 */
import type { Candidate, Outputs, OutputTensor } from '../types.js';

export interface NanodetDecodeOptions {
  inputSize: [number, number];
  numClasses: number;
  regMax: number;
  strides: readonly number[];
  scoreThreshold: number;
}

interface Level {
  stride: number;
  gw: number;
  cells: number;
  /** where the level's rows start in its tensors */
  scores: { t: OutputTensor; row0: number; stride: number; offset: number };
  dists: { t: OutputTensor; row0: number; stride: number; offset: number };
}

function levels(outputs: Outputs, o: NanodetDecodeOptions): Level[] {
  const [W, H] = o.inputSize;
  const C = o.numClasses;
  const D = 4 * (o.regMax + 1);
  const all = Object.values(outputs);
  const grid = o.strides.map((s) => ({ stride: s, gw: Math.ceil(W / s), cells: Math.ceil(W / s) * Math.ceil(H / s) }));
  const total = grid.reduce((n, g) => n + g.cells, 0);
  const last = (t: OutputTensor): number => t.dims[t.dims.length - 1] ?? 0;
  const rowsOf = (t: OutputTensor): number => t.dims[t.dims.length - 2] ?? 0;
  const merged = all.find((t) => last(t) === C + D && rowsOf(t) === total);
  if (merged) {
    let row0 = 0;
    return grid.map((g) => {
      const l: Level = { ...g, scores: { t: merged, row0, stride: C + D, offset: 0 }, dists: { t: merged, row0, stride: C + D, offset: C } };
      row0 += g.cells;
      return l;
    });
  }
  return grid.map((g) => {
    const s = all.find((t) => last(t) === C && rowsOf(t) === g.cells);
    const d = all.find((t) => last(t) === D && rowsOf(t) === g.cells);
    if (!s || !d) throw new Error(`NanoDet outputs do not match stride ${g.stride} (${g.cells} cells, ${C} classes, ${D} bins)`);
    return { ...g, scores: { t: s, row0: 0, stride: C, offset: 0 }, dists: { t: d, row0: 0, stride: D, offset: 0 } };
  });
}

/** Softmax expectation of `n` bins starting at data[o]. */
function expectation(data: Float32Array, o: number, n: number): number {
  let max = -Infinity;
  for (let k = 0; k < n; k++) max = Math.max(max, data[o + k] as number);
  let sum = 0;
  let acc = 0;
  for (let k = 0; k < n; k++) {
    const e = Math.exp((data[o + k] as number) - max);
    sum += e;
    acc += e * k;
  }
  return acc / sum;
}

/** Candidates (best class per cell above the threshold) in input pixels. */
export function decodeNanodet(outputs: Outputs, o: NanodetDecodeOptions): Candidate[] {
  const C = o.numClasses;
  const bins = o.regMax + 1;
  const thr = o.scoreThreshold;
  const out: Candidate[] = [];
  for (const l of levels(outputs, o)) {
    const sd = l.scores.t.data;
    const dd = l.dists.t.data;
    const sStride = l.scores.stride;
    const sBase = l.scores.row0 * sStride + l.scores.offset;
    for (let i = 0; i < l.cells; i++) {
      const so = sBase + i * sStride;
      const end = so + C;
      // Cheap pass first: most cells have no score above the threshold.
      let k = so;
      while (k < end && (sd[k] as number) <= thr) k++;
      if (k === end) continue;
      let best = k - so;
      let score = sd[k] as number;
      for (k++; k < end; k++) {
        const v = sd[k] as number;
        if (v > score) {
          score = v;
          best = k - so;
        }
      }
      const d0 = (l.dists.row0 + i) * l.dists.stride + l.dists.offset;
      const cx = ((i % l.gw) + 0.5) * l.stride;
      const cy = (Math.floor(i / l.gw) + 0.5) * l.stride;
      out.push({
        x1: cx - expectation(dd, d0, bins) * l.stride,
        y1: cy - expectation(dd, d0 + bins, bins) * l.stride,
        x2: cx + expectation(dd, d0 + 2 * bins, bins) * l.stride,
        y2: cy + expectation(dd, d0 + 3 * bins, bins) * l.stride,
        score,
        classId: best,
      });
    }
  }
  return out;
}
