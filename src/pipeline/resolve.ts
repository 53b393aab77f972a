/**
 * Checks a pipeline spec against the installed models and loads what it needs. Where the spec names a model
 * of the wrong kind, or a classifier that does not exist, the answer is VALIDATION_FAILED naming the field;
 * an unknown `model` stays NOT_FOUND as in the first release.
 */
import { AppError } from '../errors.js';
import type { DetectionEngine } from '../inference/index.js';
import type { Classifier } from '../inference/types.js';
import type { PipelineSpec } from './spec.js';

export interface ResolvedPipeline {
  /** 'detect': a detector (+ stages); 'classify': the model is a classifier run on the whole image. */
  readonly mode: 'detect' | 'classify';
  /** The model's name (the default detector when the spec names none). */
  readonly model: string;
  readonly classifier?: Classifier;
}

/** `wholeImage`: whether this caller can classify whole images (jobs and /infer can; live sessions cannot). */
export async function resolvePipeline(engine: DetectionEngine, spec: PipelineSpec, wholeImage: boolean): Promise<ResolvedPipeline> {
  const model = spec.model ?? engine.defaultModel();
  const kind = engine.kindOf(model);
  if (kind === 'classifier') {
    if (!wholeImage) throw new AppError('VALIDATION_FAILED', `model: "${model}" is a classifier; a live session needs a detector (use it as "classifier").`);
    if (spec.classifier !== undefined) throw new AppError('VALIDATION_FAILED', `model: "${model}" is a classifier; "classifier" needs a detector as the model.`);
    return { mode: 'classify', model };
  }
  if (!kind) await engine.get(model); // NOT_FOUND naming the models there are
  const classifier = spec.classifier === undefined ? undefined : await loadClassifier(engine, spec.classifier);
  return { mode: 'detect', model, ...(classifier ? { classifier } : {}) };
}

export async function loadClassifier(engine: DetectionEngine, name: string): Promise<Classifier> {
  const kind = engine.kindOf(name);
  if (!kind) {
    const available = engine.list().filter((m) => m.kind === 'classifier').map((m) => m.name);
    throw new AppError('VALIDATION_FAILED', `classifier: unknown classifier "${name}". Available: ${available.length ? available.join(', ') : '(none)'}.`);
  }
  if (kind !== 'classifier') throw new AppError('VALIDATION_FAILED', `classifier: "${name}" is a detector, not a classifier.`);
  return engine.classifier(name);
}
