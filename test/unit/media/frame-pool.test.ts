import { describe, expect, it } from 'vitest';
import { FramePool } from '../../../src/media/frame-pool.js';

describe('FramePool', () => {
  it('hands out shared buffers of its size and reuses those given back', () => {
    const pool = new FramePool(12);
    const a = pool.take();
    const b = pool.take();
    expect(a.byteLength).toBe(12);
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(a.buffer).not.toBe(b.buffer);
    pool.give(a);
    expect(pool.take()).toBe(a);
    expect(pool.made).toBe(2);
  });

  it('keeps at most `keep` buffers, and none of another size or kind', () => {
    const pool = new FramePool(8, 2);
    const bs = [pool.take(), pool.take(), pool.take()];
    for (const b of bs) pool.give(b);
    pool.give(new Uint8Array(8)); // not shared memory
    pool.give(new Uint8Array(new SharedArrayBuffer(16))); // another size
    const again = [pool.take(), pool.take(), pool.take()];
    expect(again.slice(0, 2).every((b) => bs.includes(b))).toBe(true);
    expect(bs).not.toContain(again[2]);
    expect(pool.made).toBe(4);
  });
});
