/**
 * Shares one detector between live sessions. There is no queue: each session holds at most one decoded
 * frame (its newest), and whenever the detector is free the scheduler asks the sessions in turn (round
 * robin, so a busy stream cannot starve a quiet one) for a frame to run. A session may decline (its frame
 * is too old for its budget, or it has no tokens reserved); the scheduler then asks the next one.
 */
import type { DetectResult, Detector, RgbFrame } from '../inference/types.js';

export interface FrameSource {
  /** Called when the detector is free: the frame to run now, or undefined to pass. */
  take(now: number): { frame: RgbFrame; onDone: (result: DetectResult | Error, startedAt: number) => void } | undefined;
}

export class DetectorScheduler {
  readonly detector: Detector;
  readonly #sources: FrameSource[] = [];
  #next = 0;
  #busy = false;
  #closed = false;

  constructor(detector: Detector) {
    this.detector = detector;
  }

  get sessions(): number {
    return this.#sources.length;
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

  /** A source has a new frame (or new credit): run it now if the detector is idle. */
  wake(): void {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    // Decide on a fresh stack: wake() is called from inside ffmpeg's data handler.
    queueMicrotask(() => this.#runNext());
  }

  close(): void {
    this.#closed = true;
  }

  #runNext(): void {
    const n = this.#sources.length;
    for (let tried = 0; tried < n && !this.#closed; tried++) {
      const i = this.#next % n;
      const source = this.#sources[i]!;
      this.#next = (i + 1) % Math.max(1, n);
      const now = performance.now();
      const job = source.take(now);
      if (!job) continue;
      this.detector.detectFrame(job.frame).then(
        (result) => this.#finish(() => job.onDone(result, now)),
        (err: unknown) => this.#finish(() => job.onDone(err instanceof Error ? err : new Error(String(err)), now)),
      );
      return;
    }
    this.#busy = false;
  }

  #finish(deliver: () => void): void {
    try {
      deliver();
    } finally {
      this.#runNext();
    }
  }
}
