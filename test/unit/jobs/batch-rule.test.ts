/** The rule alone, on plain objects: no GPU runs here, so a detector on 'cuda' can only be described, not loaded. */
import { describe, expect, it } from 'vitest';
import { runsAsBatch } from '../../../src/jobs/stages.js';

describe('runsAsBatch', () => {
  it('batches a job\'s frames only on a GPU provider, only for a model that takes a batch, only for two or more', () => {
    expect(runsAsBatch({ batchable: true, provider: 'cuda' }, 8)).toBe(true);
    expect(runsAsBatch({ batchable: true, provider: 'tensorrt' }, 2)).toBe(true);
    expect(runsAsBatch({ batchable: true, provider: 'cpu' }, 8)).toBe(false);
    expect(runsAsBatch({ batchable: false, provider: 'cuda' }, 8)).toBe(false);
    expect(runsAsBatch({ batchable: true, provider: 'cuda' }, 1)).toBe(false);
  });
});
