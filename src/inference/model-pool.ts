/**
 * Several worker threads running one model, each with its own ONNX Runtime session: on a CPU a small model
 * gains more from two frames in two sessions of one thread each than from one frame split over two threads
 * (measured on a 2-core machine: BlazeFace 5.4 ms a frame on one thread, 8.3 ms on two). A call goes to the
 * member with the fewest calls in flight; several frames of a model without a batch dimension are shared out
 * (each member answers its share in order, so the results keep the frames' order).
 *
 * Sizing (`planWorkers`, MODEL_WORKERS): one member unless asked; `auto` is two on a machine of two or more
 * cores. With more than one, the cores are shared out between them for ONNX Runtime's intra-op threads when those
 * are left to it; a model that lands on a GPU keeps one member under `auto` (the device serialises its runs
 * anyway). The trade: more frames at once from different streams, but each frame of a bigger model on fewer
 * threads (2-core VM: NanoDet 36 frames/s alone on one worker, 23 on one of two). If any member dies, the pool
 * tells the engine (which loads the model afresh on the next request) and closes the others once their calls
 * are answered.
 */
import { AppError } from '../errors.js';
import type { ModelManifest } from './manifest.js';
import type { SessionOptions } from './session.js';
import type { Classifier, ClassifyResult, DetectResult, Detector, ModelInfo, Region, RgbFrame, UnavailableProvider } from './types.js';
import { WorkerModel } from './worker-model.js';

export interface WorkerPlan {
  /** Members to start (a GPU keeps only the first when the count is automatic). */
  workers: number;
  /** Whether `workers` was chosen automatically (and so drops to 1 on a GPU). */
  auto: boolean;
  /** Intra-op threads for each member's session (0: ONNX Runtime's choice). */
  intraOpThreads: number;
}

/** How many members for `requested` (a count, or 'auto') on a machine of `cores`, and their threads. */
export function planWorkers(requested: number | 'auto', cores: number, intraOpThreads: number): WorkerPlan {
  const auto = requested === 'auto';
  const workers = auto ? (cores >= 2 ? 2 : 1) : Math.max(1, Math.floor(requested));
  // Left to itself, each session would size its pool for the whole machine; members would then fight over it.
  const threads = intraOpThreads > 0 || workers === 1 ? intraOpThreads : Math.max(1, Math.floor(cores / workers));
  return { workers, auto, intraOpThreads: threads };
}

export class ModelPool implements Detector, Classifier {
  readonly model: ModelInfo;
  readonly provider: string;
  readonly batchable: boolean;
  readonly resize: 'letterbox' | 'stretch';
  readonly unavailable: readonly UnavailableProvider[];
  readonly #members: readonly WorkerModel[];
  #gone = false;

  private constructor(members: readonly WorkerModel[]) {
    const first = members[0]!;
    this.#members = members;
    this.model = first.model;
    this.provider = first.provider;
    this.batchable = first.batchable;
    this.resize = first.resize;
    this.unavailable = first.unavailable;
  }

  /** Calls that may usefully run at once (one per member). */
  get parallelism(): number {
    return this.#members.length;
  }

  /**
   * Starts the first member, then (on the CPU, or always for a fixed count) the others on the provider the first
   * got. `onExit` is called once when any member stops.
   */
  static async load(manifest: ModelManifest, modelPath: string, info: ModelInfo, opts: SessionOptions, plan: WorkerPlan, onExit?: (p: ModelPool) => void): Promise<ModelPool> {
    const made: { pool?: ModelPool } = {};
    let exited = false;
    const gone = (): void => {
      if (exited) return;
      exited = true;
      if (made.pool) made.pool.#lost(onExit);
    };
    const session = { ...opts, intraOpThreads: plan.intraOpThreads };
    const first = await WorkerModel.load(manifest, modelPath, info, session, gone);
    const count = plan.auto && first.provider !== 'cpu' ? 1 : plan.workers;
    const rest = await Promise.allSettled(
      Array.from({ length: count - 1 }, () => WorkerModel.load(manifest, modelPath, info, { ...session, providers: [first.provider] }, gone)),
    );
    const members = [first, ...rest.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))];
    const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed || exited) {
      await Promise.all(members.map((m) => m.close()));
      throw failed ? failed.reason : new AppError('UNAVAILABLE', `A ${manifest.name} worker stopped while the model was loading.`);
    }
    made.pool = new ModelPool(members);
    return made.pool;
  }

  #lost(onExit?: (p: ModelPool) => void): void {
    if (this.#gone) return;
    this.#gone = true;
    onExit?.(this);
    // The survivors answer what they hold, then end: the engine starts a whole new pool on the next request.
    void Promise.all(this.#members.map((m) => m.close()));
  }

  /** Calls in flight on each member (metrics, tests). */
  get inFlight(): number[] {
    return this.#members.map((m) => m.inFlight);
  }

  /** The member with the fewest calls in flight (the first of those on a tie). */
  #pick(): WorkerModel {
    let best = this.#members[0]!;
    for (const m of this.#members) if (m.inFlight < best.inFlight) best = m;
    return best;
  }

  detectImage(bytes: Uint8Array): Promise<DetectResult> {
    return this.#pick().detectImage(bytes);
  }

  detectFrame(frame: RgbFrame): Promise<DetectResult> {
    return this.#pick().detectFrame(frame);
  }

  /** One batch to one member when the model takes one; otherwise the frames shared out, answered in order. */
  async detectFrames(frames: readonly RgbFrame[]): Promise<DetectResult[]> {
    if (this.batchable || frames.length <= 1 || this.#members.length === 1) return this.#pick().detectFrames(frames);
    const n = Math.min(this.#members.length, frames.length);
    const per = Math.ceil(frames.length / n);
    const order = [...this.#members].sort((a, b) => a.inFlight - b.inFlight).slice(0, n);
    const parts = await Promise.all(order.map((m, k) => m.detectFrames(frames.slice(k * per, (k + 1) * per))));
    return parts.flat();
  }

  classify(frame: RgbFrame, regions?: readonly Region[]): Promise<ClassifyResult> {
    return this.#pick().classify(frame, regions);
  }

  /** Lets calls in flight finish, then closes every member; safe to call twice. */
  async close(): Promise<void> {
    this.#gone = true;
    await Promise.all(this.#members.map((m) => m.close()));
  }
}
