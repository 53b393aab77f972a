/**
 * Warming the models before the server says it is ready: each is loaded (which runs one detection at its input
 * size) and run a few more times, and, where live sessions will batch its frames, once at every batch size, so
 * that the first frames of the first session pay for no allocation, no kernel choice and no JIT that later
 * frames do not. A classifier is run on 1 to 8 crops of one frame (the crop counts a frame usually has), so the
 * first frame with faces does not pay for each new batch shape. A model in several workers (MODEL_WORKERS) is warmed
 * in each. `/health` answers 503 ("starting") until this is done.
 */
import type { Logger } from '../log.js';
import { blankFrame } from './detector.js';
import type { DetectionEngine } from './engine.js';
import type { Classifier, Detector } from './types.js';

export interface WarmState {
  total: number;
  ready: number;
  failed: number;
}

const EXTRA_RUNS = 3;

/** `run` once per worker of the model at the same time: each call goes to the least busy worker, so each gets one. */
const onEachWorker = async (d: { readonly parallelism?: number }, run: () => Promise<unknown>): Promise<void> => {
  await Promise.all(Array.from({ length: d.parallelism ?? 1 }, run));
};

async function warmOne(d: Detector, batchSizes: number): Promise<void> {
  const frame = blankFrame(d.model);
  for (let i = 0; i < EXTRA_RUNS; i++) await onEachWorker(d, () => d.detectFrame(frame));
  if (d.batchable) for (let n = 2; n <= batchSizes; n++) await onEachWorker(d, () => d.detectFrames(Array.from({ length: n }, () => frame)));
}

const CLASSIFIER_WARM_CROPS = 8;

async function warmClassifier(c: Classifier): Promise<void> {
  const frame = { data: new Uint8Array(640 * 480 * 3).fill(114), width: 640, height: 480 };
  const max = c.batchable ? CLASSIFIER_WARM_CROPS : 1;
  for (let n = 1; n <= max; n++) await onEachWorker(c, () => c.classify(frame, Array.from({ length: n }, (_, i) => [i * 60, 0, i * 60 + 60, 80] as const)));
}

/**
 * Loads and warms every model, one after the other (they share the cores). `batchFor(d)` is the largest batch live
 * sessions will run on that detector (1 when they do not batch). Updates `state` as it goes; never throws.
 */
export async function warmModels(engine: DetectionEngine, batchFor: (d: Detector) => number, logger: Logger, state: WarmState): Promise<void> {
  const models = engine.list();
  state.total = models.length;
  for (const m of models) {
    const started = performance.now();
    try {
      const d = m.kind === 'classifier' ? await engine.classifier(m.name) : await engine.get(m.name);
      if (m.kind === 'detector') await warmOne(d as Detector, batchFor(d as Detector));
      else await warmClassifier(d as Classifier);
      state.ready++;
      logger.info({ model: m.name, kind: m.kind, provider: d.provider, ms: Math.round(performance.now() - started) }, 'model ready');
    } catch (err) {
      state.failed++;
      logger.error({ model: m.name, err }, 'model failed to load');
    }
  }
}
