import { describe, expect, it } from 'vitest';
import { queueDepth } from '../../../src/jobs/video-file.js';

describe('queueDepth (a video job\'s queues between stages)', () => {
  it('lets two batches wait for 640×480 and 1280×720 frames, one for 1080p and 4K', () => {
    expect(queueDepth(640 * 480 * 3)).toBe(2);
    expect(queueDepth(1280 * 720 * 3)).toBe(2);
    expect(queueDepth(1920 * 1080 * 3)).toBe(1);
    expect(queueDepth(3840 * 2160 * 3)).toBe(1);
  });
});
