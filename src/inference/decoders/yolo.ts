/**
 * Ultralytics YOLO decoding, layout told from the output shape:
 * - v5: [1, N, 5 + C] rows of (cx, cy, w, h, objectness, class scores); score = objectness * class.
 * - v8 / v11: [1, 4 + C, N] columns of (cx, cy, w, h, class scores); no objectness.
 * A [1, N, 4 + C] (row-major v8) output is read too. Boxes are in input pixels.
 */
import type { Candidate, OutputTensor } from '../types.js';

export interface YoloLayout {
  /** number of boxes */
  n: number;
  /** values per box */
  attrs: number;
  /** true: [1, N, attrs]; false: [1, attrs, N] */
  rowMajor: boolean;
  objectness: boolean;
}

export function yoloLayout(dims: readonly number[], numClasses: number, version: 'auto' | 'v5' | 'v8' | 'v11' = 'auto'): YoloLayout {
  if (dims.length !== 3 || dims[0] !== 1) throw new Error(`YOLO output must be [1, a, b], got [${dims.join(', ')}]`);
  const a = dims[1] ?? 0;
  const b = dims[2] ?? 0;
  const v5 = numClasses + 5;
  const v8 = numClasses + 4;
  if (version === 'v5' || (version === 'auto' && b === v5 && a !== v8)) {
    if (b !== v5) throw new Error(`YOLOv5 output must be [1, N, ${v5}], got [${dims.join(', ')}]`);
    return { n: a, attrs: b, rowMajor: true, objectness: true };
  }
  if (a === v8) return { n: b, attrs: a, rowMajor: false, objectness: false };
  if (b === v8) return { n: a, attrs: b, rowMajor: true, objectness: false };
  if (version === 'auto' && a === v5) return { n: b, attrs: a, rowMajor: false, objectness: true };
  throw new Error(`YOLO output [${dims.join(', ')}] does not fit ${numClasses} classes (expected [1, ${v8}, N] or [1, N, ${v5}])`);
}

export interface YoloDecodeOptions {
  numClasses: number;
  scoreThreshold: number;
  version?: 'auto' | 'v5' | 'v8' | 'v11';
}

/** Candidates (best class per box above the threshold) in input pixels. */
export function decodeYolo(output: OutputTensor, o: YoloDecodeOptions): Candidate[] {
  const L = yoloLayout(output.dims, o.numClasses, o.version);
  const d = output.data;
  // element (box i, attribute k)
  const rs = L.rowMajor ? L.attrs : 1;
  const ks = L.rowMajor ? 1 : L.n;
  const c0 = L.objectness ? 5 : 4;
  const out: Candidate[] = [];
  for (let i = 0; i < L.n; i++) {
    const base = i * rs;
    const obj = L.objectness ? (d[base + 4 * ks] as number) : 1;
    if (obj <= o.scoreThreshold) continue;
    let best = -1;
    let score = o.scoreThreshold;
    for (let c = 0; c < o.numClasses; c++) {
      const v = (d[base + (c0 + c) * ks] as number) * obj;
      if (v > score) {
        score = v;
        best = c;
      }
    }
    if (best < 0) continue;
    const cx = d[base] as number;
    const cy = d[base + ks] as number;
    const w = d[base + 2 * ks] as number;
    const h = d[base + 3 * ks] as number;
    out.push({ x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2, score, classId: best });
  }
  return out;
}
