/**
 * A Detector or Classifier whose model runs in its own worker thread (model-worker.ts), so inference never blocks
 * the event loop that carries WebRTC packets, WebSocket messages and ffmpeg pipes. Frames are copied
 * once into a fresh buffer that is transferred, not cloned. Requests (one frame, or a batch) are answered in
 * order; the worker serialises them like OnnxDetector does.
 *
 * If the worker dies (a crash in native code, or out of memory), every pending and later call fails
 * with UNAVAILABLE and `onExit` tells the engine, which loads the model afresh on the next request.
 */
import { Worker } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { decodeImage } from '../media/image.js';
import { validateFrame } from './detector.js';
import type { ModelManifest } from './manifest.js';
import type { SessionOptions, UnavailableProvider } from './session.js';
import type { Classifier, ClassifyResult, DetectResult, Detector, ModelInfo, Region, RgbFrame } from './types.js';
import type { WireError, WorkerInit, WorkerReply, WorkerRequest } from './worker-protocol.js';

/**
 * The worker's entry beside this module. Run from sources (tests, tsx scripts), the worker registers
 * tsx's loader in its own thread first: loader hooks of the parent thread do not reach workers.
 */
function startWorker(name: string, workerData: WorkerInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./model-worker.js', import.meta.url), { workerData, name });
  const entry = new URL('./model-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData, name });
}

const toError = (e: WireError): AppError | Error => (e.code ? new AppError(e.code, e.message) : new Error(e.message));

type Ready = Extract<WorkerReply, { type: 'ready' }>;

type Answer = { results: DetectResult[] } | { classified: ClassifyResult };

interface Pending {
  resolve: (r: Answer) => void;
  reject: (e: Error) => void;
}

export class WorkerModel implements Detector, Classifier {
  readonly model: ModelInfo;
  readonly provider: string;
  readonly batchable: boolean;
  readonly resize: 'letterbox' | 'stretch';
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #dead: AppError | undefined;

  /** Providers tried before `provider`, with the error each gave. */
  readonly unavailable: readonly UnavailableProvider[];

  private constructor(worker: Worker, manifest: ModelManifest, info: ModelInfo, ready: Ready) {
    this.#worker = worker;
    this.model = info;
    this.provider = ready.provider;
    this.batchable = ready.batchable;
    this.unavailable = ready.unavailable;
    this.resize = manifest.resize;
  }

  /** Starts the worker and waits until it has loaded the model (and run its warm-up detection). */
  static async load(
    manifest: ModelManifest,
    modelPath: string,
    info: ModelInfo,
    opts: SessionOptions,
    onExit?: (d: WorkerModel) => void,
  ): Promise<WorkerModel> {
    const { logger, ...session } = opts;
    const init: WorkerInit = { manifest, modelPath, info, session };
    const worker = startWorker(`detector:${manifest.name}`, init);
    const log = (m: WorkerReply): boolean => {
      if (m.type !== 'log') return false;
      logger?.[m.level](m.obj, m.msg);
      return true;
    };
    const ready = await new Promise<Ready>((resolve, reject) => {
      const onMessage = (m: WorkerReply): void => {
        if (log(m)) return;
        cleanup();
        if (m.type === 'ready') resolve(m);
        else if (m.type === 'failed') reject(toError(m.error));
        else reject(new Error(`Detector worker for ${manifest.name} sent ${m.type} before it was ready`));
      };
      const onError = (e: Error): void => {
        cleanup();
        reject(e);
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new Error(`Detector worker for ${manifest.name} exited with code ${code} while loading`));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
    const d = new WorkerModel(worker, manifest, info, ready);
    worker.on('message', (m: WorkerReply) => {
      if (!log(m)) d.#reply(m);
    });
    worker.on('error', (e) => logger?.warn({ model: manifest.name, err: e.message }, 'Detector worker crashed'));
    worker.on('exit', (code) => {
      d.#fail(new AppError('UNAVAILABLE', `The ${manifest.name} detector stopped (worker exit code ${code}).`));
      onExit?.(d);
    });
    worker.unref(); // referenced only while a request is pending (see #send)
    return d;
  }

  /** Calls sent and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  async detectImage(bytes: Uint8Array): Promise<DetectResult> {
    const t0 = performance.now();
    const img = await decodeImage(bytes);
    const decodeMs = performance.now() - t0;
    const [r] = await this.#detect([img]);
    if (!r) throw new Error('The detector worker answered without a result');
    return { ...r, timings: { ...r.timings, decodeMs: Math.round(decodeMs * 1000) / 1000, totalMs: Math.round((performance.now() - t0) * 1000) / 1000 } };
  }

  async detectFrame(frame: RgbFrame): Promise<DetectResult> {
    validateFrame(frame);
    const t0 = performance.now();
    const [r] = await this.#detect([frame]);
    if (!r) throw new Error('The detector worker answered without a result');
    // totalMs covers the hand-over to the worker and back, not just the worker's own work.
    return { ...r, timings: { ...r.timings, totalMs: Math.round((performance.now() - t0) * 1000) / 1000 } };
  }

  /** Batched in the worker when the model takes a batch; the results' totalMs covers the hand-over too. */
  async detectFrames(frames: readonly RgbFrame[]): Promise<DetectResult[]> {
    for (const f of frames) validateFrame(f);
    if (frames.length === 0) return [];
    const t0 = performance.now();
    const results = await this.#detect(frames);
    const totalMs = Math.round((performance.now() - t0) * 1000) / 1000;
    return results.map((r) => ({ ...r, timings: { ...r.timings, totalMs } }));
  }

  /** Regions of one frame (or the whole frame) through the classifier; totalMs covers the hand-over too. */
  async classify(frame: RgbFrame, regions?: readonly Region[]): Promise<ClassifyResult> {
    validateFrame(frame);
    const t0 = performance.now();
    const copy = { width: frame.width, height: frame.height, data: frame.data.slice(0, frame.width * frame.height * 3) };
    const id = this.#nextId++;
    const req: WorkerRequest = { type: 'classify', id, frame: copy, ...(regions ? { regions: regions.map((r) => [r[0], r[1], r[2], r[3]] as const) } : {}) };
    const answer = await this.#send(id, req, [copy.data.buffer]);
    if (!('classified' in answer)) throw new Error('The model worker answered a classify request with detections');
    const r = answer.classified;
    return { ...r, timings: { ...r.timings, totalMs: Math.round((performance.now() - t0) * 1000) / 1000 } };
  }

  async #detect(frames: readonly RgbFrame[]): Promise<DetectResult[]> {
    // Frames in shared memory are lent to the worker as they are (the caller does not touch them until this
    // resolves); others are copied once into buffers of their own, transferred below.
    const transfer: ArrayBuffer[] = [];
    const sent = frames.map((f) => {
      const size = f.width * f.height * 3;
      if (f.data.buffer instanceof SharedArrayBuffer) return { width: f.width, height: f.height, data: f.data.subarray(0, size) };
      const data = f.data.slice(0, size);
      transfer.push(data.buffer);
      return { width: f.width, height: f.height, data };
    });
    const id = this.#nextId++;
    const answer = await this.#send(id, { type: 'detect', id, frames: sent }, transfer);
    if (!('results' in answer)) throw new Error('The model worker answered a detect request with classifications');
    return answer.results;
  }

  #send(id: number, req: WorkerRequest, transfer: ArrayBuffer[]): Promise<Answer> {
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise<Answer>((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage(req, transfer);
    });
  }

  #reply(m: WorkerReply): void {
    if (m.type !== 'result') return;
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if ('error' in m) p.reject(toError(m.error));
    else p.resolve(m);
  }

  #fail(e: AppError): void {
    this.#dead ??= e;
    for (const p of this.#pending.values()) p.reject(this.#dead);
    this.#pending.clear();
  }

  /** Lets calls in flight finish, then releases the session and ends the worker; safe to call twice. */
  async close(): Promise<void> {
    if (this.#dead) return;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.ref();
    this.#worker.postMessage({ type: 'close' } satisfies WorkerRequest);
    this.#dead = new AppError('UNAVAILABLE', `Model ${this.model.name} has been unloaded.`);
    // The worker answers what it already holds before it sees 'close'; give it a bound all the same.
    const timer = setTimeout(() => void this.#worker.terminate(), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
