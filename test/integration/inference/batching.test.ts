/**
 * Batched inference on the real models: NanoDet (converted with a symbolic batch dimension) runs several
 * frames as one inference and gives each the detections it gets alone; BlazeFace (fixed batch of 1) runs a
 * batch one frame at a time. Both in the worker thread (the server's path) and in the calling thread.
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectionEngine, type DetectResult, type RgbFrame } from '../../../src/inference/index.js';
import type { Detector } from '../../../src/inference/types.js';
import { ensureModels, FIXTURES, MODELS_DIR } from '../../helpers/onnx-setup.js';

const PHOTOS = ['chelsea.jpg', 'astronaut.jpg', 'rocket.jpg', 'coffee.jpg'];

async function rgb(name: string, width?: number, height?: number): Promise<RgbFrame> {
  let img = sharp(join(FIXTURES, name)).removeAlpha();
  if (width && height) img = img.resize(width, height, { fit: 'fill' });
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** Detections with scores to 1e-3 and boxes to 0.1 px: what "the same detections" means across batch sizes. */
function expectSameDetections(batched: DetectResult, alone: DetectResult): void {
  expect([batched.width, batched.height]).toEqual([alone.width, alone.height]);
  expect(batched.objects.map((o) => o.label)).toEqual(alone.objects.map((o) => o.label));
  batched.objects.forEach((o, i) => {
    const a = alone.objects[i]!;
    expect(Math.abs(o.score - a.score)).toBeLessThanOrEqual(1e-3);
    o.box.forEach((v, k) => expect(Math.abs(v - a.box[k]!)).toBeLessThanOrEqual(0.1));
  });
}

let engines: Record<'worker' | 'inline', DetectionEngine>;
let frames: RgbFrame[];
beforeAll(async () => {
  await ensureModels();
  const open = (isolation: 'worker' | 'inline'): Promise<DetectionEngine> =>
    DetectionEngine.open({ modelsDir: MODELS_DIR, providers: ['cpu'], intraOpThreads: 1, interOpThreads: 1, isolation });
  const [worker, inline] = await Promise.all([open('worker'), open('inline')]);
  engines = { worker, inline };
  // Different photos and sizes in one batch: each frame is letterboxed on its own.
  frames = await Promise.all([rgb(PHOTOS[0]!), rgb(PHOTOS[1]!), rgb(PHOTOS[2]!, 640, 480), rgb(PHOTOS[3]!)]);
}, 120_000);
afterAll(async () => {
  await Promise.all(Object.values(engines ?? {}).map((e) => e.close()));
});

/** The model's detections for each frame run alone, then for all of them in one `detectFrames`. */
async function aloneAndBatched(isolation: 'worker' | 'inline', model: string): Promise<{ d: Detector; alone: DetectResult[]; batched: DetectResult[] }> {
  const d = await engines[isolation].get(model);
  const alone: DetectResult[] = [];
  for (const f of frames) alone.push(await d.detectFrame(f));
  const batched = await d.detectFrames(frames);
  expect(batched).toHaveLength(frames.length);
  return { d, alone, batched };
}

describe.each(['worker', 'inline'] as const)('batched detection (%s)', (isolation) => {
  it('nanodet takes a batch and gives each frame the detections it gets alone', async () => {
    const { d, alone, batched } = await aloneAndBatched(isolation, 'nanodet');
    expect(d.batchable).toBe(true);
    expect(alone.reduce((n, r) => n + r.objects.length, 0)).toBeGreaterThan(3);
    batched.forEach((r, i) => expectSameDetections(r, alone[i]!));
    // One inference for the batch: every frame reports the same inference time.
    expect(new Set(batched.map((r) => r.timings.inferMs)).size).toBe(1);
    // Frames keep their order whatever the batch: reversed in, reversed out.
    const reversed = await d.detectFrames([...frames].reverse());
    reversed.reverse().forEach((r, i) => expectSameDetections(r, alone[i]!));
  });

  it('blazeface has a fixed batch of one and runs a batch frame by frame, with the same detections', async () => {
    const { d, alone, batched } = await aloneAndBatched(isolation, 'blazeface');
    expect(d.batchable).toBe(false);
    expect(alone[1]!.objects.length).toBeGreaterThan(0); // the astronaut's face
    batched.forEach((r, i) => expect(r.objects).toEqual(alone[i]!.objects));
  });

  it('refuses a bad frame in a batch before running any of it', async () => {
    const d = await engines[isolation].get('nanodet');
    await expect(d.detectFrames([frames[0]!, { data: new Uint8Array(5), width: 4, height: 4 }])).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await d.detectFrames([])).toEqual([]);
  });
});
