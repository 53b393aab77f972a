/**
 * Letterbox geometry: how a source image is placed inside the network input, and the way back.
 * `letterbox` keeps the aspect ratio and centres the image (bars of `padValue`); `stretch` fills
 * the input and scales x and y independently.
 */
export interface Letterbox {
  srcW: number;
  srcH: number;
  dstW: number;
  dstH: number;
  /** input pixels per source pixel */
  scaleX: number;
  scaleY: number;
  /** offset of the image inside the input, in input pixels */
  padX: number;
  padY: number;
  /** size of the image inside the input, in input pixels (integers) */
  innerW: number;
  innerH: number;
}

export function computeLetterbox(srcW: number, srcH: number, dstW: number, dstH: number, mode: 'letterbox' | 'stretch' = 'letterbox'): Letterbox {
  if (mode === 'stretch') {
    return { srcW, srcH, dstW, dstH, scaleX: dstW / srcW, scaleY: dstH / srcH, padX: 0, padY: 0, innerW: dstW, innerH: dstH };
  }
  const s = Math.min(dstW / srcW, dstH / srcH);
  const innerW = Math.max(1, Math.min(dstW, Math.round(srcW * s)));
  const innerH = Math.max(1, Math.min(dstH, Math.round(srcH * s)));
  const padX = Math.floor((dstW - innerW) / 2);
  const padY = Math.floor((dstH - innerH) / 2);
  // The exact per-axis scales of the placed image (rounding makes them differ slightly from `s`).
  return { srcW, srcH, dstW, dstH, scaleX: innerW / srcW, scaleY: innerH / srcH, padX, padY, innerW, innerH };
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** Maps a box from input pixels back to source pixels, clamped to the source image. */
export function toSourceBox(lb: Letterbox, x1: number, y1: number, x2: number, y2: number): [number, number, number, number] {
  return [
    clamp((x1 - lb.padX) / lb.scaleX, 0, lb.srcW),
    clamp((y1 - lb.padY) / lb.scaleY, 0, lb.srcH),
    clamp((x2 - lb.padX) / lb.scaleX, 0, lb.srcW),
    clamp((y2 - lb.padY) / lb.scaleY, 0, lb.srcH),
  ];
}
