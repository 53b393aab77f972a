/**
 * Shares one detector between live sessions. There is no queue: each session holds at most one decoded
 * frame (its newest), and whenever the detector is free the scheduler asks the sessions in turn (round
 * robin, so a busy stream cannot starve a quiet one) for a frame to run. A session may decline (its frame
 * is too old for its budget, or it has no tokens reserved); the scheduler then asks the next one.
 *
 * A detector with several sessions of its model (`parallelism`, model-pool.ts) runs that many inferences at
 * once, each for a different session: a session has at most one frame in flight, so its results stay in order.
 *
 * Batching (a model with a batch dimension, `maxSize` > 1): when the detector is free, every session with a
 * frame ready gives it, up to `maxSize`, and they run as one inference. If fewer than `maxSize` are ready and
 * other sessions may still deliver, the batch stays open for a short window: at most `maxWaitMs` after it
 * opened, and never past the tightest deadline among its frames less the expected run time of a batch (so
 * waiting for company never makes a frame late). A frame arriving meanwhile joins at once; a full batch runs
 * at once. Each session gets its own frame's result.
 */
import type { DetectResult, Detector, RgbFrame } from '../inference/types.js';

export interface FrameJob {
  readonly frame: RgbFrame;
  /** performance.now() by which the result is due (the frame's arrival plus its session's budget). */
  readonly deadline: number;
  /** Gets the frame's result (or the error), and when its inference started. */
  readonly onDone: (result: DetectResult | Error, startedAt: number) => void;
}

export interface FrameSource {
  /** Called when the detector is free (or a batch is open): the frame to run, or undefined to pass. */
  take(now: number): FrameJob | undefined;
}

export interface BatchOptions {
  /** Most frames in one inference; 1 turns batching off. */
  readonly maxSize: number;
  /** Longest a batch stays open for more frames. */
  readonly maxWaitMs: number;
}

export interface SchedulerOptions {
  readonly batch?: BatchOptions;
  /** Told the size of each inference run, and how many runs are going with it counted (metrics). */
  readonly onRun?: (size: number, running: number) => void;
  /** Told when delivering a result to a session threw (the other sessions still get theirs). */
  readonly onDeliveryError?: (err: unknown) => void;
  /** The clock (tests). */
  readonly now?: () => number;
}

interface OpenBatch {
  readonly jobs: FrameJob[];
  readonly from: Set<FrameSource>;
  closesAt: number;
  timer: NodeJS.Timeout | undefined;
}

/** Weight of the newest run in the running estimate of a batch's inference time. */
const RUN_ESTIMATE_WEIGHT = 0.2;

export class DetectorScheduler {
  readonly detector: Detector;
  readonly #sources: FrameSource[] = [];
  readonly #maxSize: number;
  readonly #maxWaitMs: number;
  readonly #onRun: ((size: number, running: number) => void) | undefined;
  readonly #onDeliveryError: (err: unknown) => void;
  readonly #now: () => number;
  readonly #parallel: number;
  #next = 0;
  /** Runs started, or about to be (a slot is taken before the sources are asked). */
  #slots = 0;
  /** Inferences going now. */
  #runs = 0;
  /** Sources with a frame in flight: not asked again until it is answered. */
  readonly #running = new Set<FrameSource>();
  #closed = false;
  #open: OpenBatch | undefined;
  /** Running estimate of one inference's time (ms), batched or not; undefined until the first run. */
  #runMs: number | undefined;

  constructor(detector: Detector, opts: SchedulerOptions = {}) {
    this.detector = detector;
    this.#maxSize = detector.batchable ? Math.max(1, Math.floor(opts.batch?.maxSize ?? 1)) : 1;
    this.#maxWaitMs = Math.max(0, opts.batch?.maxWaitMs ?? 0);
    this.#parallel = Math.max(1, Math.floor(detector.parallelism ?? 1));
    this.#onRun = opts.onRun;
    this.#onDeliveryError =
      opts.onDeliveryError ??
      ((err) => {
        throw err;
      });
    this.#now = opts.now ?? (() => performance.now());
  }

  get sessions(): number {
    return this.#sources.length;
  }

  /** Frames per inference at most (1: not batching). */
  get maxBatch(): number {
    return this.#maxSize;
  }

  add(source: FrameSource): void {
    if (!this.#sources.includes(source)) this.#sources.push(source);
  }

  remove(source: FrameSource): void {
    const i = this.#sources.indexOf(source);
    if (i < 0) return;
    this.#sources.splice(i, 1);
    if (this.#next > i) this.#next--;
  }

  /** Inferences that may run at once. */
  get parallelism(): number {
    return this.#parallel;
  }

  /** A source has a new frame (or new credit): run it now if the detector has room, or add it to an open batch. */
  wake(): void {
    if (this.#closed) return;
    if (this.#open) {
      // Decide on a fresh stack: wake() is called from inside ffmpeg's data handler.
      queueMicrotask(() => this.#fill());
      return;
    }
    if (this.#slots >= this.#parallel) return;
    this.#slots++;
    queueMicrotask(() => this.#runNext());
  }

  close(): void {
    this.#closed = true;
    const open = this.#open;
    if (open) {
      clearTimeout(open.timer);
      this.#open = undefined;
      // Frames taken for the batch are answered, so their sessions settle their reservations.
      for (const job of open.jobs) job.onDone(new Error('The detector scheduler closed'), this.#now());
    }
  }

  /** Holds a slot: starts a run (or opens a batch) with it, or gives it back when no source has a frame. */
  #runNext(): void {
    const n = this.#sources.length;
    const jobs: FrameJob[] = [];
    const from = new Set<FrameSource>();
    for (let tried = 0; tried < n && !this.#closed && jobs.length < this.#maxSize && !this.#open; tried++) {
      const i = this.#next % n;
      const source = this.#sources[i]!;
      this.#next = (i + 1) % Math.max(1, n);
      if (this.#running.has(source)) continue;
      const job = source.take(this.#now());
      if (!job) continue;
      jobs.push(job);
      from.add(source);
    }
    if (jobs.length === 0 || this.#closed) {
      this.#slots--;
      return;
    }
    const closesAt = this.#windowEnd(jobs, from);
    if (closesAt === undefined) {
      this.#run(jobs, from);
      return;
    }
    const open: OpenBatch = { jobs, from, closesAt, timer: undefined };
    this.#open = open;
    this.#arm(open);
  }

  #arm(open: OpenBatch): void {
    clearTimeout(open.timer);
    open.timer = setTimeout(() => this.#flush(open), Math.max(0, open.closesAt - this.#now()));
  }

  /** When a batch of `jobs` should stop waiting for more, or undefined to run it now. */
  #windowEnd(jobs: readonly FrameJob[], from: ReadonlySet<FrameSource>): number | undefined {
    if (this.#maxSize <= 1 || this.#maxWaitMs <= 0 || jobs.length >= this.#maxSize) return undefined;
    if (!this.#sources.some((s) => !from.has(s))) return undefined; // nobody else can join
    const now = this.#now();
    const end = Math.min(now + this.#maxWaitMs, ...jobs.map((j) => this.#latestStart(j)));
    return end > now ? end : undefined;
  }

  /** The latest a frame's inference may start and still be done by its deadline (as far as is known). */
  #latestStart(job: FrameJob): number {
    return job.deadline - (this.#runMs ?? 0);
  }

  /** Adds the newly ready frames of sources not yet in the open batch; runs it when full. */
  #fill(): void {
    const open = this.#open;
    if (!open || this.#closed) return;
    const before = open.closesAt;
    for (const source of this.#sources) {
      if (open.jobs.length >= this.#maxSize) break;
      if (open.from.has(source) || this.#running.has(source)) continue;
      const job = source.take(this.#now());
      if (!job) continue;
      open.jobs.push(job);
      open.from.add(source);
      open.closesAt = Math.min(open.closesAt, this.#latestStart(job));
    }
    const full = open.jobs.length >= this.#maxSize || !this.#sources.some((s) => !open.from.has(s));
    if (full || open.closesAt <= this.#now()) this.#flush(open);
    else if (open.closesAt !== before) this.#arm(open);
  }

  #flush(open: OpenBatch): void {
    if (this.#open !== open) return;
    clearTimeout(open.timer);
    this.#open = undefined;
    this.#run(open.jobs, open.from);
  }

  #run(jobs: readonly FrameJob[], from: ReadonlySet<FrameSource>): void {
    const startedAt = this.#now();
    this.#runs++;
    this.#onRun?.(jobs.length, this.#runs);
    for (const source of from) this.#running.add(source);
    // Another slot free: look for a frame from a session not in this run, now.
    if (this.#slots < this.#parallel && !this.#closed) this.wake();
    const done = (results: readonly (DetectResult | Error)[]): void => {
      this.#runs--;
      for (const source of from) this.#running.delete(source);
      const ms = this.#now() - startedAt;
      this.#runMs = this.#runMs === undefined ? ms : this.#runMs + RUN_ESTIMATE_WEIGHT * (ms - this.#runMs);
      try {
        jobs.forEach((job, i) => {
          try {
            job.onDone(results[i] ?? new Error('The detector returned no result for this frame'), startedAt);
          } catch (err) {
            // One session's delivery failing must not keep the others' results from them.
            this.#onDeliveryError(err);
          }
        });
      } finally {
        // This run's slot goes on to the next frame (or is given back).
        this.#runNext();
      }
    };
    const run = jobs.length === 1 ? this.detector.detectFrame(jobs[0]!.frame).then((r) => [r]) : this.detector.detectFrames(jobs.map((j) => j.frame));
    run.then(done, (err: unknown) => done(jobs.map(() => (err instanceof Error ? err : new Error(String(err))))));
  }
}
