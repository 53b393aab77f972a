/**
 * One loaded classifier: an onnxruntime session, the crop sampler and the output activation. All the
 * regions of one call run as one batch when the model's first input dimension is symbolic (at most
 * MAX_BATCH per run), else one run per region. Calls are serialised like OnnxDetector's.
 */
import * as ort from 'onnxruntime-node';
import { AppError } from '../errors.js';
import { padRegion, sampleSize, writeCrop } from './crop.js';
import { blankFrame, validateFrame } from './detector.js';
import type { ModelManifest } from './manifest.js';
import { Serial } from './serial.js';
import { openWarmed, takesBatch, type SessionOptions, type UnavailableProvider } from './session.js';
import type { Classification, Classifier, ClassifyResult, LabelScore, ModelInfo, Region, RgbFrame } from './types.js';

/** Regions per inference run; more run in several batches. */
export const MAX_BATCH = 64;
const TOP = 5;

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

/** Scores of one sample after the manifest's activation. */
export function activate(logits: Float32Array, activation: ModelManifest['classifier']['activation']): Float32Array {
  if (activation === 'none') return logits;
  const out = new Float32Array(logits.length);
  if (activation === 'sigmoid') {
    for (let i = 0; i < logits.length; i++) out[i] = 1 / (1 + Math.exp(-(logits[i] as number)));
    return out;
  }
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp((logits[i] as number) - max);
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / sum;
  return out;
}

/** The best label and the top 5, best first. */
export function topLabels(scores: Float32Array, labels: readonly string[]): Classification {
  const order = Array.from(scores.keys()).sort((a, b) => (scores[b] as number) - (scores[a] as number)).slice(0, TOP);
  const top: LabelScore[] = order.map((i) => ({ label: labels[i] ?? `class ${i}`, score: round(scores[i] as number, 4) }));
  return { ...(top[0] ?? { label: '', score: 0 }), top };
}

export class OnnxClassifier implements Classifier {
  readonly model: ModelInfo;
  readonly provider: string;
  readonly batchable: boolean;
  readonly #manifest: ModelManifest;
  readonly #session: ort.InferenceSession;
  readonly #inputName: string;
  readonly #per: number;
  #input = new Float32Array(0);
  readonly #serial = new Serial();
  #closed = false;

  private constructor(manifest: ModelManifest, info: ModelInfo, session: ort.InferenceSession, provider: string, readonly unavailable: readonly UnavailableProvider[]) {
    this.#manifest = manifest;
    this.model = info;
    this.#session = session;
    this.provider = provider;
    const inputName = session.inputNames[0];
    if (!inputName || session.outputNames.length !== 1) throw new AppError('VALIDATION_FAILED', `Classifier ${manifest.name} must have one input and one output.`);
    this.#inputName = inputName;
    this.batchable = takesBatch(session);
    this.#per = sampleSize(manifest);
  }

  /** Opens the session (provider fallback), then classifies one blank input to warm it and check its output. */
  static load(manifest: ModelManifest, modelPath: string, info: ModelInfo, opts: SessionOptions): Promise<OnnxClassifier> {
    return openWarmed(modelPath, opts, (o) => new OnnxClassifier(manifest, info, o.session, o.provider, o.unavailable), (c) => c.classify(blankFrame(manifest)));
  }

  classify(frame: RgbFrame, regions?: readonly Region[]): Promise<ClassifyResult> {
    validateFrame(frame);
    const t0 = performance.now();
    return this.#serial.run(() => this.#classify(frame, regions ?? [[0, 0, frame.width, frame.height]], t0));
  }

  async #classify(frame: RgbFrame, regions: readonly Region[], t0: number): Promise<ClassifyResult> {
    if (this.#closed) throw new AppError('UNAVAILABLE', `Model ${this.model.name} has been unloaded.`);
    const m = this.#manifest;
    const per = this.#per;
    const step = this.batchable ? MAX_BATCH : 1;
    const classifications: Classification[] = [];
    let preprocessMs = 0;
    let inferMs = 0;
    let runs = 0;
    for (let start = 0; start < regions.length; start += step) {
      const chunk = regions.slice(start, start + step);
      const n = chunk.length;
      if (this.#input.length < per * n) this.#input = new Float32Array(per * n);
      const input = this.#input.subarray(0, per * n);
      const t1 = performance.now();
      chunk.forEach((r, i) => writeCrop(frame, padRegion(r, m.classifier.cropPadding, frame.width, frame.height), m, input, i * per));
      const t2 = performance.now();
      const dims = m.normalisation.layout === 'NCHW' ? [n, per / (m.inputSize[0] * m.inputSize[1]), m.inputSize[1], m.inputSize[0]] : [n, m.inputSize[1], m.inputSize[0], per / (m.inputSize[0] * m.inputSize[1])];
      const result = await this.#session.run({ [this.#inputName]: new ort.Tensor('float32', input, dims) });
      const t3 = performance.now();
      const out = Object.values(result)[0];
      if (!out || !(out.data instanceof Float32Array) || out.data.length !== n * m.labels.length) {
        throw new AppError('UNAVAILABLE', `Classifier ${m.name} gave ${out?.dims.join('x') ?? 'no'} output for ${n} input(s) and ${m.labels.length} labels: check its manifest's labels.`);
      }
      const width = m.labels.length;
      for (let i = 0; i < n; i++) classifications.push(topLabels(activate(out.data.subarray(i * width, (i + 1) * width), m.classifier.activation), m.labels));
      preprocessMs += t2 - t1;
      inferMs += t3 - t2;
      runs++;
    }
    const timings = { preprocessMs: round(preprocessMs, 3), inferMs: round(inferMs, 3), totalMs: round(performance.now() - t0, 3) };
    return { classifications, runs, timings };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#serial.drained();
    await this.#session.release();
  }
}
