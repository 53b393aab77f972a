/** The rule alone, on plain objects: no GPU runs here, so a detector on 'cuda' can only be described, not loaded. */
import { describe, expect, it } from 'vitest';
import { runsAsBatch } from '../../../src/jobs/stages.js';

describe('runsAsBatch (JOBS_BATCH)', () => {
  it('auto batches a job\'s frames on a GPU provider only; on and off do as they say; never one frame or a fixed-batch model', () => {
    expect(runsAsBatch('auto', { batchable: true, provider: 'cuda' }, 8)).toBe(true);
    expect(runsAsBatch('auto', { batchable: true, provider: 'tensorrt' }, 2)).toBe(true);
    expect(runsAsBatch('auto', { batchable: true, provider: 'cpu' }, 8)).toBe(false);
    expect(runsAsBatch('on', { batchable: true, provider: 'cpu' }, 8)).toBe(true);
    expect(runsAsBatch('off', { batchable: true, provider: 'cuda' }, 8)).toBe(false);
    expect(runsAsBatch('on', { batchable: false, provider: 'cuda' }, 8)).toBe(false);
    expect(runsAsBatch('on', { batchable: true, provider: 'cuda' }, 1)).toBe(false);
  });
});
