/**
 * What runs a job's frames: the detector (several frames as one inference when the model takes a batch and
 * JOBS_BATCH says so), then
 * per file a Pipeline (filters, zones, a classifier on the crops, a video's tracker); or a classifier on the whole
 * frame. `results` is what one frame stores; `objects` what is drawn on it.
 */
import type { Config } from '../config.js';
import type { Db, JobRow } from '../db/schema.js';
import type { DetectionEngine, Detection, Detector } from '../inference/index.js';
import type { Classifier, LabelScore, RgbFrame } from '../inference/types.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { resolvePipeline } from '../pipeline/resolve.js';
import { specFromJson, type PipelineSpec } from '../pipeline/spec.js';
import { tryHoldMore } from '../tokens/ledger.js';

export interface FrameOutcome {
  objects: Detection[];
  results: Detection[] | { classifications: LabelScore[] };
  /** Crops the classifier stage classified (and held tokens for). */
  classified: number;
}

/** One frame to run, with its file's pipeline and its time in the file (videos). */
export interface FrameInput {
  frame: RgbFrame;
  pipeline: Pipeline | undefined;
  atMs: number;
}

export interface Stages {
  /** The frames in order; detected as one batch when the model takes one. */
  frames(inputs: readonly FrameInput[]): Promise<FrameOutcome[]>;
  /** A fresh Pipeline for a file (a video's tracker starts with the video). */
  pipeline(video: boolean, fileId: string): Pipeline | undefined;
}

/**
 * Whether a job runs `n` frames as one inference (JOBS_BATCH): `auto` on a GPU only. On CPUs a batch saves
 * nothing: NanoDet took as long a frame in a batch of eight as alone, and its first batches of a new size up to
 * three times as long, so a 60-image job ran at 70-72% of the detector alone with batches and at 107-108% without
 * (BlazeFace: no difference). The same rule as LIVE_BATCH=auto.
 */
export function runsAsBatch(mode: 'auto' | 'on' | 'off', d: Pick<Detector, 'batchable' | 'provider'>, n: number): boolean {
  return n > 1 && d.batchable && (mode === 'on' || (mode === 'auto' && d.provider !== 'cpu'));
}

export async function stagesFor(deps: { engine: DetectionEngine; db: Db; config: Config }, job: JobRow): Promise<Stages> {
  const { engine, db, config } = deps;
  const spec: PipelineSpec = { ...specFromJson(job.pipeline), model: job.model };
  const resolved = await resolvePipeline(engine, spec, true);
  if (resolved.mode === 'classify') {
    const classifier: Classifier = await engine.classifier(resolved.model);
    const one = async ({ frame }: FrameInput): Promise<FrameOutcome> => {
      const top = (await classifier.classify(frame)).classifications[0];
      const classifications = top?.top ?? [];
      // Drawn as one box round the whole picture, labelled with the best class.
      const objects: Detection[] = top ? [{ label: top.label, classId: 0, score: top.score, box: [0, 0, frame.width, frame.height] }] : [];
      return { objects, results: { classifications }, classified: 0 };
    };
    return {
      pipeline: () => undefined,
      frames: async (inputs) => {
        const out: FrameOutcome[] = [];
        for (const i of inputs) out.push(await one(i));
        return out;
      },
    };
  }
  const detector: Detector = await engine.get(resolved.model);
  const cropPrice = config.tokens.priceCropMilli;
  return {
    pipeline: (video, fileId) => {
      // Crops are held for as they come (PRICE_CLASSIFIED_CROP), keyed by their order in the file: a retried
      // file holds under the same keys, so nothing is held twice; the file's charge covers what it classified.
      let n = 0;
      const payCrops = (count: number): Promise<boolean> =>
        tryHoldMore(db, { userId: job.user_id, reservationId: job.reservation_id!, ref: `job:${job.id}`, key: `job:${job.id}:file:${fileId}:crops:${++n}`, amountMilli: count * cropPrice });
      const tracker = { lostMs: config.tracking.lostMs };
      return new Pipeline(spec, resolved.classifier ? { tracker, classifier: resolved.classifier, ...(cropPrice > 0 ? { payCrops } : {}) } : { tracker }, video);
    },
    frames: async (inputs) => {
      const detected = runsAsBatch(config.jobs.batch, detector, inputs.length)
        ? await detector.detectFrames(inputs.map((i) => i.frame))
        : await Promise.all(inputs.map((i) => detector.detectFrame(i.frame)));
      const out: FrameOutcome[] = [];
      for (const [k, { frame, pipeline, atMs }] of inputs.entries()) {
        const objects = detected[k]!.objects;
        if (!pipeline) {
          out.push({ objects, results: objects, classified: 0 });
          continue;
        }
        const p = await pipeline.process(frame, objects, atMs);
        out.push({ objects: p.objects, results: p.objects, classified: p.classified });
      }
      return out;
    },
  };
}
