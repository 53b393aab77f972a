/**
 * Non-maximum suppression over candidates in any pixel space.
 * - `nms`: greedy hard NMS, per class unless `classAgnostic`.
 * - `weightedNms`: BlazeFace-style: each kept box is the score-weighted mean of the boxes it suppresses.
 */
import type { Candidate } from './types.js';

export function iou(a: Candidate, b: Candidate): number {
  const ix = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const iy = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

export interface NmsOptions {
  iouThreshold: number;
  maxDetections: number;
  classAgnostic?: boolean;
}

const byScore = (a: Candidate, b: Candidate): number => b.score - a.score;

/** Greedy NMS: keeps the best box, drops boxes of the same class overlapping it by more than the threshold. */
export function nms(candidates: readonly Candidate[], opts: NmsOptions): Candidate[] {
  const sorted = [...candidates].sort(byScore);
  const kept: Candidate[] = [];
  for (const c of sorted) {
    if (kept.length >= opts.maxDetections) break;
    let keep = true;
    for (const k of kept) {
      if ((opts.classAgnostic || k.classId === c.classId) && iou(k, c) > opts.iouThreshold) {
        keep = false;
        break;
      }
    }
    if (keep) kept.push(c);
  }
  return kept;
}

/** Weighted NMS: overlapping boxes (of the same class) are merged by score-weighted averaging. */
export function weightedNms(candidates: readonly Candidate[], opts: NmsOptions): Candidate[] {
  let rest = [...candidates].sort(byScore);
  const out: Candidate[] = [];
  while (rest.length > 0 && out.length < opts.maxDetections) {
    const best = rest[0] as Candidate;
    const group: Candidate[] = [];
    const others: Candidate[] = [];
    for (const c of rest) {
      if ((opts.classAgnostic || c.classId === best.classId) && (c === best || iou(best, c) > opts.iouThreshold)) group.push(c);
      else others.push(c);
    }
    let w = 0;
    let x1 = 0;
    let y1 = 0;
    let x2 = 0;
    let y2 = 0;
    for (const g of group) {
      w += g.score;
      x1 += g.x1 * g.score;
      y1 += g.y1 * g.score;
      x2 += g.x2 * g.score;
      y2 += g.y2 * g.score;
    }
    out.push(w > 0 ? { x1: x1 / w, y1: y1 / w, x2: x2 / w, y2: y2 / w, score: best.score, classId: best.classId } : best);
    rest = others;
  }
  return out;
}
