import { describe, expect, it } from 'vitest';
import { computeLetterbox, toSourceBox } from '../../../src/inference/letterbox.js';

describe('computeLetterbox', () => {
  it('fits a wide image into a square input, centred vertically', () => {
    const lb = computeLetterbox(1280, 720, 640, 640);
    expect(lb).toMatchObject({ innerW: 640, innerH: 360, padX: 0, padY: 140, scaleX: 0.5, scaleY: 0.5 });
  });

  it('fits a tall image, centred horizontally, and upscales small ones', () => {
    expect(computeLetterbox(100, 200, 416, 416)).toMatchObject({ innerW: 208, innerH: 416, padX: 104, padY: 0, scaleX: 2.08, scaleY: 2.08 });
  });

  it('stretch mode scales the axes independently with no padding', () => {
    expect(computeLetterbox(1280, 720, 640, 640, 'stretch')).toMatchObject({ innerW: 640, innerH: 640, padX: 0, padY: 0, scaleX: 0.5, scaleY: 640 / 720 });
  });
});

describe('toSourceBox', () => {
  it('reverses the letterbox exactly', () => {
    const lb = computeLetterbox(1280, 720, 640, 640);
    expect(toSourceBox(lb, 270, 295, 370, 345)).toEqual([540, 310, 740, 410]);
  });

  it('clamps boxes to the source image', () => {
    const lb = computeLetterbox(1280, 720, 640, 640);
    expect(toSourceBox(lb, -20, 100, 700, 600)).toEqual([0, 0, 1280, 720]);
  });

  it('round-trips with odd sizes (rounded inner size)', () => {
    const lb = computeLetterbox(451, 300, 416, 416);
    const [x1, y1, x2, y2] = toSourceBox(lb, lb.padX, lb.padY, lb.padX + lb.innerW, lb.padY + lb.innerH);
    expect([x1, y1, x2, y2].map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0, 0, 451, 300]);
  });
});
