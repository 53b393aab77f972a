/**
 * The live detector scheduler's batching logic on a fake clock. The detector here is a stand-in that records
 * which frames each inference got and answers when the test says so: what is under test is when batches form
 * and who gets which result, not the model (test/integration/inference/batching.test.ts runs real models).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DetectResult, Detector, RgbFrame } from '../../../src/inference/types.js';
import { DetectorScheduler, type FrameJob, type FrameSource } from '../../../src/live/scheduler.js';

/** Frame `id` is carried in its first byte; a result names the frame it came from in its label. */
const frameOf = (id: number): RgbFrame => ({ data: new Uint8Array([id, 0, 0]), width: 1, height: 1 });
const resultFor = (f: RgbFrame): DetectResult => ({
  width: 1,
  height: 1,
  objects: [{ label: `frame ${f.data[0]}`, classId: 0, score: 1, box: [0, 0, 1, 1] }],
  timings: { decodeMs: 0, preprocessMs: 0, inferMs: 0, postprocessMs: 0, totalMs: 0 },
});

class FakeDetector implements Detector {
  readonly model = { name: 'fake', kind: 'detector' as const, family: 'nanodet' as const, inputSize: [1, 1] as [number, number], labels: [], default: true };
  readonly provider = 'cuda';
  readonly unavailable = [];
  readonly resize = 'letterbox' as const;
  /** Frame ids of each inference, in order. */
  readonly runs: number[][] = [];
  readonly #answers: (() => void)[] = [];
  fail: Error | undefined;
  constructor(
    readonly batchable: boolean,
    readonly parallelism = 1,
  ) {}

  detectImage(): Promise<DetectResult> {
    throw new Error('not used');
  }
  async detectFrame(frame: RgbFrame): Promise<DetectResult> {
    const [r] = await this.detectFrames([frame]);
    return r!;
  }
  detectFrames(frames: readonly RgbFrame[]): Promise<DetectResult[]> {
    this.runs.push(frames.map((f) => f.data[0]!));
    return new Promise((resolve, reject) => {
      this.#answers.push(() => (this.fail ? reject(this.fail) : resolve(frames.map(resultFor))));
    });
  }
  /** Answers the oldest inference in flight. */
  finishOne(): void {
    const next = this.#answers.shift();
    if (!next) throw new Error('no inference in flight');
    next();
  }
}

/** A session: holds at most one frame; records what it got back. */
class Source implements FrameSource {
  frame: { id: number; deadline: number } | undefined;
  readonly got: { label: string | Error; startedAt: number }[] = [];
  throwOnDeliver = false;
  constructor(readonly name: string) {}

  /** A new frame, due `dueInMs` from now on the fake clock. */
  give(id: number, dueInMs = 100): void {
    this.frame = { id, deadline: Date.now() + dueInMs };
  }
  take(): FrameJob | undefined {
    const f = this.frame;
    if (!f) return undefined;
    this.frame = undefined;
    return {
      frame: frameOf(f.id),
      deadline: f.deadline,
      onDone: (result, startedAt) => {
        this.got.push({ label: result instanceof Error ? result : result.objects[0]!.label, startedAt });
        if (this.throwOnDeliver) throw new Error(`${this.name} failed to deliver`);
      },
    };
  }
}

const flush = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(0);
};

/** Each source gets its frame (due in 100 ms), then the scheduler is woken and has decided. */
async function offer(scheduler: DetectorScheduler, frames: [Source, number][]): Promise<void> {
  for (const [source, id] of frames) source.give(id);
  scheduler.wake();
  await flush();
}

describe('DetectorScheduler', () => {
  // The fake timers' clock: it moves as advanceTimersByTimeAsync fires each timer.
  const clock = (): number => Date.now();
  const advance = async (ms: number): Promise<void> => {
    await vi.advanceTimersByTimeAsync(ms);
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: 1000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const setup = (opts: { batchable?: boolean; maxSize?: number; maxWaitMs?: number; sources?: number; parallelism?: number }) => {
    const detector = new FakeDetector(opts.batchable ?? true, opts.parallelism);
    const sizes: number[] = [];
    const running: number[] = [];
    const errors: unknown[] = [];
    const scheduler = new DetectorScheduler(detector, {
      batch: { maxSize: opts.maxSize ?? 8, maxWaitMs: opts.maxWaitMs ?? 4 },
      now: clock,
      onRun: (n, r) => {
        sizes.push(n);
        running.push(r);
      },
      onDeliveryError: (e) => errors.push(e),
    });
    const sources = Array.from({ length: opts.sources ?? 3 }, (_, i) => new Source(String.fromCharCode(65 + i)));
    for (const s of sources) scheduler.add(s);
    return { detector, scheduler, sources, sizes, running, errors };
  };

  it('without batching runs one frame at a time, taking the sessions in turn', async () => {
    const { detector, scheduler, sources } = setup({ maxSize: 1 });
    const [a, b, c] = sources as [Source, Source, Source];
    await offer(scheduler, [[a, 1], [b, 2], [c, 3]]);
    expect(detector.runs).toEqual([[1]]);
    detector.finishOne();
    await flush();
    detector.finishOne();
    await flush();
    detector.finishOne();
    await flush();
    expect(detector.runs).toEqual([[1], [2], [3]]);
    expect([a.got[0]?.label, b.got[0]?.label, c.got[0]?.label]).toEqual(['frame 1', 'frame 2', 'frame 3']);
  });

  it('runs the frames that became ready while the detector was busy as one batch, each result to its own session', async () => {
    const { detector, scheduler, sources, sizes } = setup({ sources: 4 });
    const [a, b, c, d] = sources as [Source, Source, Source, Source];
    for (const s of sources) scheduler.add(s);
    await offer(scheduler, [[a, 1], [b, 2], [c, 3], [d, 4]]);
    // Everyone was ready: one batch of four, no waiting.
    expect(detector.runs).toEqual([[1, 2, 3, 4]]);
    // While it runs, three sessions get new frames.
    b.give(12);
    d.give(14);
    a.give(11);
    scheduler.wake();
    await advance(3);
    expect(detector.runs).toHaveLength(1);
    detector.finishOne();
    await flush();
    // C has nothing yet: the batch of three stays open for C, at most maxWaitMs.
    expect(sizes).toEqual([4]);
    await advance(4);
    expect(sizes).toEqual([4, 3]);
    expect(detector.runs[1]?.slice().sort()).toEqual([11, 12, 14]);
    detector.finishOne();
    await flush();
    expect(a.got.map((g) => g.label)).toEqual(['frame 1', 'frame 11']);
    expect(b.got.map((g) => g.label)).toEqual(['frame 2', 'frame 12']);
    expect(c.got.map((g) => g.label)).toEqual(['frame 3']);
    expect(d.got.map((g) => g.label)).toEqual(['frame 4', 'frame 14']);
  });

  it('keeps a batch open for at most maxWaitMs, and a frame arriving meanwhile joins it', async () => {
    const { detector, scheduler, sources } = setup({ maxWaitMs: 4 });
    const [a, b] = sources as [Source, Source, Source];
    const opened = clock();
    a.give(1);
    scheduler.wake();
    await advance(2);
    expect(detector.runs).toEqual([]); // waiting for company
    b.give(2);
    scheduler.wake();
    await advance(1);
    expect(detector.runs).toEqual([]); // joined; C may still come
    await advance(1);
    expect(detector.runs).toEqual([[1, 2]]);
    detector.finishOne();
    await flush();
    expect(a.got[0]).toEqual({ label: 'frame 1', startedAt: opened + 4 });
    expect(b.got[0]).toEqual({ label: 'frame 2', startedAt: opened + 4 });
  });

  it('runs a full batch at once', async () => {
    const { detector, scheduler, sources } = setup({ maxSize: 2, maxWaitMs: 50 });
    const [a, b] = sources as [Source, Source, Source];
    a.give(1);
    scheduler.wake();
    await advance(1);
    b.give(2);
    scheduler.wake();
    await flush();
    expect(detector.runs).toEqual([[1, 2]]);
  });

  it('never waits past the tightest deadline less the expected run time', async () => {
    const { detector, scheduler, sources } = setup({ maxWaitMs: 20 });
    const [a, b] = sources as [Source, Source, Source];
    // A first run that takes 5 ms sets the estimate of a run's time.
    a.give(1);
    b.give(2);
    scheduler.wake();
    await advance(20);
    expect(detector.runs).toEqual([[1, 2]]);
    // Every run takes 5 ms here, so the estimate stays 5.
    const finishIn5ms = async (): Promise<void> => {
      await advance(5);
      detector.finishOne();
      await flush();
    };
    await finishIn5ms();
    // A's next frame is due in 8 ms: the batch may wait 8 - 5 = 3 ms, not 20.
    a.give(3, 8);
    scheduler.wake();
    await advance(2);
    expect(detector.runs).toHaveLength(1);
    await advance(1);
    expect(detector.runs).toEqual([[1, 2], [3]]);
    await finishIn5ms();
    // A frame already too close to its deadline to wait runs at once.
    a.give(4, 4);
    scheduler.wake();
    await flush();
    expect(detector.runs).toEqual([[1, 2], [3], [4]]);
    await finishIn5ms();
    // A frame joining an open batch with a tighter deadline shortens the wait.
    a.give(5);
    scheduler.wake();
    await advance(1);
    b.give(6, 7); // latest start: 7 - 5 = 2 ms from now
    scheduler.wake();
    await advance(1);
    expect(detector.runs).toHaveLength(3);
    await advance(1);
    expect(detector.runs[3]).toEqual([5, 6]);
  });

  it('does not wait when no other session could join', async () => {
    const { detector, scheduler, sources } = setup({ sources: 1 });
    sources[0]!.give(1);
    scheduler.wake();
    await flush();
    expect(detector.runs).toEqual([[1]]);
  });

  it('does not batch a model without a batch dimension', async () => {
    const { detector, scheduler, sources, sizes } = setup({ batchable: false, maxSize: 8 });
    for (const [i, s] of sources.entries()) s.give(i + 1);
    scheduler.wake();
    await flush();
    expect(scheduler.maxBatch).toBe(1);
    for (let i = 0; i < 3; i++) {
      detector.finishOne();
      await flush();
    }
    expect(detector.runs).toEqual([[1], [2], [3]]);
    expect(sizes).toEqual([1, 1, 1]);
  });

  it('gives every frame of a failed batch the error, and one session failing to deliver does not stop the others', async () => {
    const { detector, scheduler, sources, errors } = setup({});
    const [a, b, c] = sources as [Source, Source, Source];
    await offer(scheduler, [[a, 1], [b, 2], [c, 3]]);
    detector.fail = new Error('CUDA out of memory');
    detector.finishOne();
    await flush();
    expect([a, b, c].map((s) => (s.got[0]?.label as Error).message)).toEqual(['CUDA out of memory', 'CUDA out of memory', 'CUDA out of memory']);
    detector.fail = undefined;
    a.throwOnDeliver = true;
    await offer(scheduler, [[a, 4], [b, 5], [c, 6]]);
    detector.finishOne();
    await flush();
    expect(errors.map((e) => (e as Error).message)).toEqual(['A failed to deliver']);
    expect(b.got.at(-1)?.label).toBe('frame 5');
    expect(c.got.at(-1)?.label).toBe('frame 6');
    // And the scheduler goes on.
    b.give(7);
    scheduler.wake();
    await advance(4);
    expect(detector.runs.at(-1)).toEqual([7]);
  });

  it('answers the frames of an open batch when it closes', async () => {
    const { detector, scheduler, sources } = setup({ maxWaitMs: 50 });
    sources[0]!.give(1);
    scheduler.wake();
    await advance(1);
    scheduler.close();
    await advance(60);
    expect(detector.runs).toEqual([]);
    expect((sources[0]!.got[0]?.label as Error).message).toMatch(/closed/);
  });
  it('with two sessions of the model runs two frames at once, from different sessions, each session in order', async () => {
    const { detector, scheduler, sources, running } = setup({ maxSize: 1, parallelism: 2 });
    const [a, b, c] = sources as [Source, Source, Source];
    expect(scheduler.parallelism).toBe(2);
    await offer(scheduler, [[a, 1], [b, 2], [c, 3]]);
    expect(detector.runs).toEqual([[1], [2]]);
    // A's next frame waits for A's first to be answered, even though C's frame is also waiting.
    await offer(scheduler, [[a, 4]]);
    expect(detector.runs).toEqual([[1], [2]]);
    detector.finishOne(); // frame 1: the slot goes to C (next in turn), not back to A
    await flush();
    expect(detector.runs).toEqual([[1], [2], [3]]);
    detector.finishOne(); // frame 2: A's frame 4 runs now
    await flush();
    expect(detector.runs).toEqual([[1], [2], [3], [4]]);
    detector.finishOne();
    detector.finishOne();
    await flush();
    expect(a.got.map((g) => g.label)).toEqual(['frame 1', 'frame 4']);
    expect([b.got[0]?.label, c.got[0]?.label]).toEqual(['frame 2', 'frame 3']);
    // Runs going when each started, itself counted: 1, then 2 from the second on.
    expect(running).toEqual([1, 2, 2, 2]);
  });

  it('with two sessions of the model, one stream still has one frame in flight at a time', async () => {
    const { detector, scheduler, sources } = setup({ maxSize: 1, parallelism: 2, sources: 1 });
    const [a] = sources as [Source];
    await offer(scheduler, [[a, 1]]);
    await offer(scheduler, [[a, 2]]);
    expect(detector.runs).toEqual([[1]]);
    detector.finishOne();
    await flush();
    expect(detector.runs).toEqual([[1], [2]]);
    detector.finishOne();
    await flush();
    expect(a.got.map((g) => g.label)).toEqual(['frame 1', 'frame 2']);
  });
});
