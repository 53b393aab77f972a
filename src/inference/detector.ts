/**
 * One loaded model: an onnxruntime session plus its preprocessor and decoder. Calls are serialised
 * (the input tensor is preallocated and reused), which costs nothing on CPU where one run already
 * uses all the intra-op threads.
 */
import * as ort from 'onnxruntime-node';
import { AppError } from '../errors.js';
import { decodeImage } from '../media/image.js';
import { createPostprocess, type Postprocess } from './decode.js';
import { toSourceBox, type Letterbox } from './letterbox.js';
import type { ModelManifest } from './manifest.js';
import { Serial } from './serial.js';
import { createPreprocessor, type Preprocessor } from './preprocess.js';
import { openWarmed, takesBatch, type SessionOptions, type UnavailableProvider } from './session.js';
import type { Detection, DetectResult, DetectTimings, Detector, ModelInfo, OutputTensor, Outputs, RgbFrame } from './types.js';

export function modelInfo(m: ModelManifest, isDefault: boolean): ModelInfo {
  return { name: m.name, kind: m.kind, family: m.family, inputSize: [...m.inputSize], labels: [...m.labels], default: isDefault };
}

const round = (v: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

function roundTimings(t: DetectTimings): DetectTimings {
  return {
    decodeMs: round(t.decodeMs, 3),
    preprocessMs: round(t.preprocessMs, 3),
    inferMs: round(t.inferMs, 3),
    postprocessMs: round(t.postprocessMs, 3),
    totalMs: round(t.totalMs, 3),
  };
}

/** Sample `i` of a batch of `n` outputs, shaped as a batch of one. */
function sample(outputs: Outputs, i: number, n: number): Outputs {
  const out: Record<string, OutputTensor> = {};
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== n) throw new Error(`Output ${name} has dims [${t.dims.join(', ')}] for a batch of ${n}`);
    const size = t.data.length / n;
    out[name] = { dims: [1, ...t.dims.slice(1)], data: t.data.subarray(i * size, (i + 1) * size) };
  }
  return out;
}

/** A grey frame of the model's input size: what a model is warmed with when it loads. */
export function blankFrame(m: Pick<ModelManifest, 'inputSize'>): RgbFrame {
  const [w, h] = m.inputSize;
  return { data: new Uint8Array(w * h * 3).fill(114), width: w, height: h };
}

export function validateFrame(frame: RgbFrame): void {
  const { width, height, data } = frame;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new AppError('VALIDATION_FAILED', `Frame size must be positive integers, got ${width}x${height}.`);
  }
  if (!(data instanceof Uint8Array) || data.length < width * height * 3) {
    throw new AppError('VALIDATION_FAILED', `An RGB24 frame of ${width}x${height} needs ${width * height * 3} bytes, got ${data?.length ?? 0}.`);
  }
}

export class OnnxDetector implements Detector {
  readonly model: ModelInfo;
  readonly provider: string;
  readonly batchable: boolean;
  readonly #manifest: ModelManifest;
  readonly #session: ort.InferenceSession;
  readonly #pre: Preprocessor;
  readonly #post: Postprocess;
  readonly #inputName: string;
  /** The batch input, grown to the largest batch seen. */
  #batchInput = new Float32Array(0);
  readonly #serial = new Serial();
  #closed = false;

  private constructor(
    manifest: ModelManifest,
    info: ModelInfo,
    session: ort.InferenceSession,
    provider: string,
    readonly unavailable: readonly UnavailableProvider[],
  ) {
    this.#manifest = manifest;
    this.model = info;
    this.#session = session;
    this.provider = provider;
    this.#pre = createPreprocessor(manifest);
    this.#post = createPostprocess(manifest);
    const inputName = session.inputNames[0];
    if (!inputName) throw new Error(`Model ${manifest.name} has no input`);
    this.#inputName = inputName;
    this.batchable = takesBatch(session);
  }

  /** Opens the session (provider fallback), then runs one warm-up detection. */
  static load(manifest: ModelManifest, modelPath: string, info: ModelInfo, opts: SessionOptions): Promise<OnnxDetector> {
    return openWarmed(modelPath, opts, (o) => new OnnxDetector(manifest, info, o.session, o.provider, o.unavailable), (d) => d.detectFrame(blankFrame(manifest)));
  }

  get resize(): 'letterbox' | 'stretch' {
    return this.#manifest.resize;
  }

  /** Raw inference on the current input tensor (what the benchmark calls "raw session.run"). */
  async runRaw(input: Float32Array = this.#pre.input, batch = 1): Promise<Outputs> {
    const feeds = { [this.#inputName]: new ort.Tensor('float32', input, [batch, ...this.#pre.dims.slice(1)]) };
    const result = await this.#session.run(feeds);
    const outputs: Record<string, { dims: readonly number[]; data: Float32Array }> = {};
    for (const [name, t] of Object.entries(result)) {
      if (!(t.data instanceof Float32Array)) throw new Error(`Output ${name} of ${this.model.name} is not float32`);
      outputs[name] = { dims: t.dims, data: t.data };
    }
    return outputs;
  }

  async detectImage(bytes: Uint8Array): Promise<DetectResult> {
    const t0 = performance.now();
    const img = await decodeImage(bytes);
    const decodeMs = performance.now() - t0;
    return this.#serial.run(() => this.#detect(img, decodeMs, t0));
  }

  async detectFrame(frame: RgbFrame): Promise<DetectResult> {
    validateFrame(frame);
    const t0 = performance.now();
    return this.#serial.run(() => this.#detect(frame, 0, t0));
  }

  /** Frames as one batch when the model takes one; otherwise one by one. */
  async detectFrames(frames: readonly RgbFrame[]): Promise<DetectResult[]> {
    for (const f of frames) validateFrame(f);
    if (!this.batchable || frames.length <= 1) {
      const out: DetectResult[] = [];
      for (const f of frames) out.push(await this.detectFrame(f));
      return out;
    }
    const t0 = performance.now();
    return this.#serial.run(() => this.#detectBatch(frames, t0));
  }

  async #detect(frame: RgbFrame, decodeMs: number, t0: number): Promise<DetectResult> {
    if (this.#closed) throw new AppError('UNAVAILABLE', `Model ${this.model.name} has been unloaded.`);
    const t1 = performance.now();
    const lb = this.#pre.run(frame);
    const t2 = performance.now();
    const outputs = await this.runRaw();
    const t3 = performance.now();
    const objects = this.#objects(lb, outputs);
    const t4 = performance.now();
    const timings = { decodeMs, preprocessMs: t2 - t1, inferMs: t3 - t2, postprocessMs: t4 - t3, totalMs: t4 - t0 };
    return { width: frame.width, height: frame.height, objects, timings: roundTimings(timings) };
  }

  async #detectBatch(frames: readonly RgbFrame[], t0: number): Promise<DetectResult[]> {
    if (this.#closed) throw new AppError('UNAVAILABLE', `Model ${this.model.name} has been unloaded.`);
    const n = frames.length;
    const per = this.#pre.input.length;
    if (this.#batchInput.length < per * n) this.#batchInput = new Float32Array(per * n);
    const input = this.#batchInput.subarray(0, per * n);
    const t1 = performance.now();
    const boxes = frames.map((f, i) => {
      const lb = this.#pre.run(f);
      input.set(this.#pre.input, i * per);
      return lb;
    });
    const t2 = performance.now();
    const outputs = await this.runRaw(input, n);
    const t3 = performance.now();
    const objects = boxes.map((lb, i) => this.#objects(lb, sample(outputs, i, n)));
    const t4 = performance.now();
    const timings = roundTimings({ decodeMs: 0, preprocessMs: (t2 - t1) / n, inferMs: t3 - t2, postprocessMs: (t4 - t3) / n, totalMs: t4 - t0 });
    return frames.map((f, i) => ({ width: f.width, height: f.height, objects: objects[i]!, timings: { ...timings } }));
  }

  /** Final detections in source pixels from one frame's outputs. */
  #objects(lb: Letterbox, outputs: Outputs): Detection[] {
    const labels = this.#manifest.labels;
    const objects: Detection[] = [];
    for (const c of this.#post(outputs)) {
      const [x1, y1, x2, y2] = toSourceBox(lb, c.x1, c.y1, c.x2, c.y2);
      if (x2 - x1 < 0.5 || y2 - y1 < 0.5) continue;
      objects.push({
        label: labels[c.classId] ?? `class ${c.classId}`,
        classId: c.classId,
        score: round(c.score, 4),
        box: [round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)],
      });
    }
    return objects;
  }

  /** Releases the session after any call in flight; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#serial.drained();
    await this.#session.release();
  }
}
