import { describe, expect, it } from 'vitest';
import type { Detection } from '../../../src/inference/types.js';
import { BoxKalman, toBox, toState } from '../../../src/pipeline/kalman.js';
import { ByteTracker, iou } from '../../../src/pipeline/tracker.js';

const det = (x: number, y: number, score = 0.9, label = 'face', size = 40): Detection => ({ label, classId: 0, score, box: [x, y, x + size, y + size] });

/** Two objects crossing: A left -> right at y 100, B right -> left at y 112 (boxes overlap while they pass). */
function crossing(frame: number): Detection[] {
  return [det(20 + frame * 8, 100), det(420 - frame * 8, 112)];
}

describe('ByteTracker', () => {
  it('keeps two crossing objects on two ids, through the crossing and through skipped frames', () => {
    const t = new ByteTracker();
    const seen = new Map<number, Set<number>>(); // trackId -> which object (0 = A, 1 = B)
    const started: number[] = [];
    // Frames at 30 fps, but only every 1st, 2nd or 3rd is processed (newest-frame-wins skips the others).
    const processed = [0, 1, 3, 4, 7, 9, 10, 13, 14, 15, 18, 21, 22, 24, 25, 26, 29, 31, 33, 34, 37, 40, 41, 44, 47, 48];
    for (const f of processed) {
      const { objects, events } = t.update(crossing(f), f * (1000 / 30));
      for (const e of events) if (e.event === 'started') started.push(e.trackId);
      objects.forEach((o, k) => {
        expect(o.trackId).toBeDefined();
        const s = seen.get(o.trackId!) ?? new Set();
        s.add(k);
        seen.set(o.trackId!, s);
      });
    }
    expect(started).toEqual([1, 2]);
    expect([...seen.keys()].sort()).toEqual([1, 2]);
    for (const s of seen.values()) expect(s.size).toBe(1); // no id swap: each id saw one object only
    // They did cross: A ends right of B.
    expect(crossing(48)[0]!.box[0]).toBeGreaterThan(crossing(48)[1]!.box[0]);
  });

  it('keeps an id through a dip in score (second round) and a short gap, and ends it after lostMs', () => {
    const t = new ByteTracker({ lostMs: 500 });
    expect(t.update([det(100, 100)], 0).objects[0]!.trackId).toBe(1);
    expect(t.update([det(104, 100, 0.3)], 33).objects[0]!.trackId).toBe(1); // low score, still matched
    expect(t.update([], 66).events).toEqual([]);
    expect(t.update([det(112, 100)], 200).objects[0]!.trackId).toBe(1); // back after a gap
    const gone = t.update([], 800);
    expect(gone.events).toEqual([{ event: 'ended', trackId: 1, label: 'face', atMs: 800 }]);
    expect(t.update([det(300, 300)], 833).objects[0]!.trackId).toBe(2);
  });

  it('does not match across labels, does not start tracks from low scores, and starts ids at 1 per tracker', () => {
    const t = new ByteTracker();
    const a = t.update([det(100, 100, 0.9, 'cat'), det(300, 100, 0.3, 'dog')], 0);
    expect(a.objects.map((o) => o.trackId)).toEqual([1, undefined]);
    const b = t.update([det(101, 100, 0.9, 'dog')], 33);
    expect(b.objects[0]!.trackId).toBe(2); // same place, other label: a new track
    expect(new ByteTracker().update([det(0, 0)], 0).objects[0]!.trackId).toBe(1);
  });
});

describe('BoxKalman', () => {
  it('matches the textbook 2-state update and predicts constant velocity', () => {
    const k = new BoxKalman(toState([0, 0, 10, 20]));
    // Feed a box moving 5 px per frame; after a few updates the prediction leads by ~5 px per frame.
    for (let f = 1; f <= 20; f++) {
      k.predict(1);
      k.update(toState([5 * f, 0, 5 * f + 10, 20]));
    }
    k.predict(3); // three frames skipped
    const [x1, , x2] = toBox(k.state);
    expect((x1 + x2) / 2).toBeCloseTo(5 * 23 + 5, 0);
  });

  it('iou', () => {
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150, 6);
    expect(iou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
  });
});
