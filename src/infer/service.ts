/**
 * One-call inference: a few images in, their detections out, charged like job items. The whole cost is held
 * first (402 when the balance is short, nothing charged); each image that was processed is then charged once
 * (its own idempotency key), a bad image becomes an error in its slot and costs nothing, and the rest of the
 * hold is refunded. The decoded frames are returned too, for an annotated answer.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/schema.js';
import { isAppError, type ErrorCode } from '../errors.js';
import type { DetectionEngine } from '../inference/index.js';
import type { Detection, DetectTimings } from '../inference/types.js';
import { decodeImage, type DecodedImage } from '../media/image.js';
import { charge, refund, reserve } from '../tokens/ledger.js';
import { toTokens } from '../tokens/amount.js';
import { applyFilter, type DetectionFilter } from './filters.js';

export interface InferImage {
  readonly name?: string;
  readonly bytes: Uint8Array;
}

export type InferResult =
  | { name?: string; width: number; height: number; objects: Detection[]; timings: DetectTimings }
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
  req: { userId: string; requestId: string; model?: string; filter: DetectionFilter; images: readonly InferImage[] },
): Promise<InferOutcome> {
  const { db, engine, config } = deps;
  const detector = await engine.get(req.model); // NOT_FOUND for an unknown model, before anything is held
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
        const r = await detector.detectFrame(frame);
        await charge(db, { reservationId: hold.id, amountMilli: price, key: `${ref}:${i}` });
        chargedMilli += price;
        results.push({ ...named, width: r.width, height: r.height, objects: applyFilter(r.objects, req.filter), timings: r.timings });
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
