/**
 * One-call inference: a few images in, their detections (or, with a classifier as the model, their top-5
 * classifications) out, through the request's pipeline (filters, zones, a classifier on each detection's crop),
 * charged like job items (plus PRICE_CLASSIFIED_CROP per classified detection, held before the classifier runs:
 * when the balance does not cover an image's crops, its detections come back unclassified and the crops cost nothing). The whole cost is held
 * first (402 when the balance is short, nothing charged); each image that was processed is then charged once
 * (its own idempotency key), a bad image becomes an error in its slot and costs nothing, and the rest of the
 * hold is refunded. The decoded frames are returned too, for an annotated answer.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/schema.js';
import { isAppError, type ErrorCode } from '../errors.js';
import type { DetectionEngine } from '../inference/index.js';
import type { Detection, DetectTimings, LabelScore } from '../inference/types.js';
import { decodeImage, type DecodedImage } from '../media/image.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { resolvePipeline } from '../pipeline/resolve.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { charge, refund, reserve, tryHoldMore } from '../tokens/ledger.js';
import { toTokens } from '../tokens/amount.js';

export interface InferImage {
  readonly name?: string;
  readonly bytes: Uint8Array;
}

export type InferTimings = DetectTimings & { classifyMs?: number };

export type InferResult =
  | { name?: string; width: number; height: number; objects: Detection[]; timings: InferTimings }
  | { name?: string; width: number; height: number; classifications: LabelScore[]; timings: InferTimings }
  | { name?: string; error: { code: ErrorCode; message: string } };

export interface InferOutcome {
  results: InferResult[];
  tokensCharged: number;
  /** The decoded image of each slot (undefined where it failed), for annotation. */
  frames: (DecodedImage | undefined)[];
}

export interface InferDeps {
  readonly db: Db;
  readonly engine: DetectionEngine;
  readonly config: Config;
}

export async function inferImages(
  deps: InferDeps,
  req: { userId: string; requestId: string; spec: PipelineSpec; images: readonly InferImage[] },
): Promise<InferOutcome> {
  const { db, engine, config } = deps;
  // NOT_FOUND / VALIDATION_FAILED for models that are not there or of the wrong kind, before anything is held.
  const resolved = await resolvePipeline(engine, req.spec, true);
  const detector = resolved.mode === 'detect' ? await engine.get(resolved.model) : undefined;
  const whole = resolved.mode === 'classify' ? await engine.classifier(resolved.model) : undefined;
  const price = config.tokens.priceImageMilli;
  const ref = `infer:${req.requestId}`;
  const hold = await reserve(db, { userId: req.userId, amountMilli: price * req.images.length, ref, key: `${ref}:reserve` });
  const results: InferResult[] = [];
  const frames: (DecodedImage | undefined)[] = [];
  let chargedMilli = 0;
  try {
    for (const [i, img] of req.images.entries()) {
      const named = img.name !== undefined ? { name: img.name } : {};
      try {
        const frame = await decodeImage(img.bytes, config.uploads.imageMaxPixels);
        if (whole) {
          const c = await whole.classify(frame);
          await charge(db, { reservationId: hold.id, amountMilli: price, key: `${ref}:${i}` });
          chargedMilli += price;
          const t = c.timings;
          const timings = { decodeMs: 0, preprocessMs: t.preprocessMs, inferMs: t.inferMs, postprocessMs: 0, totalMs: t.totalMs };
          results.push({ ...named, width: frame.width, height: frame.height, classifications: c.classifications[0]?.top ?? [], timings });
        } else {
          const r = await detector!.detectFrame(frame);
          const cropPrice = config.tokens.priceCropMilli;
          const payCrops = (n: number): Promise<boolean> =>
            tryHoldMore(db, { userId: req.userId, reservationId: hold.id, ref, key: `${ref}:${i}:crops`, amountMilli: n * cropPrice });
          const pipeline = new Pipeline(req.spec, resolved.classifier ? { classifier: resolved.classifier, payCrops } : {}, false);
          const p = await pipeline.process(frame, r.objects, 0);
          const amountMilli = price + p.classified * cropPrice;
          await charge(db, { reservationId: hold.id, amountMilli, key: `${ref}:${i}` });
          chargedMilli += amountMilli;
          const timings = { ...r.timings, classifyMs: p.timings.classifyMs, totalMs: Math.round((r.timings.totalMs + p.timings.classifyMs + p.timings.trackMs) * 1000) / 1000 };
          results.push({ ...named, width: r.width, height: r.height, objects: p.objects, timings });
        }
        frames.push(frame);
      } catch (err) {
        if (!isAppError(err) || err.code === 'INTERNAL' || err.code === 'UNAVAILABLE') throw err;
        results.push({ ...named, error: { code: err.code, message: err.message } });
        frames.push(undefined);
      }
    }
  } finally {
    await refund(db, { reservationId: hold.id, key: `${ref}:refund` });
  }
  return { results, tokensCharged: toTokens(chargedMilli), frames };
}
