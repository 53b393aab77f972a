/**
 * Models run in a worker thread by default (WorkerModel). These tests hold it to the same answers as
 * the in-thread OnnxDetector, check that results reach the caller that asked, and that the event loop
 * keeps turning while a model runs, which is the reason the worker exists. A model pool (MODEL_WORKERS) runs
 * several such workers of one model: the same answers, in order, with the work shared out.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectionEngine, type RgbFrame } from '../../../src/inference/index.js';
import { ModelPool, planWorkers } from '../../../src/inference/model-pool.js';
import { ensureModels, FIXTURES, MODELS_DIR } from '../../helpers/onnx-setup.js';

const open = (isolation: 'worker' | 'inline'): Promise<DetectionEngine> =>
  DetectionEngine.open({ modelsDir: MODELS_DIR, providers: ['cpu'], intraOpThreads: 1, interOpThreads: 1, isolation });

async function rgb(name: string): Promise<RgbFrame> {
  const { data, info } = await sharp(join(FIXTURES, name)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

let worker: DetectionEngine;
let inline: DetectionEngine;
beforeAll(async () => {
  await ensureModels();
  [worker, inline] = await Promise.all([open('worker'), open('inline')]);
}, 120_000);
afterAll(async () => {
  await Promise.all([worker?.close(), inline?.close()]);
});

describe('detector worker', () => {
  it.each([
    ['blazeface', 'astronaut.jpg'],
    ['nanodet', 'chelsea.jpg'],
    ['nanodet', 'astronaut.jpg'],
  ])('%s on %s: the same detections as in the calling thread', async (model, photo) => {
    const bytes = new Uint8Array(await readFile(join(FIXTURES, photo)));
    const [a, b] = await Promise.all([(await worker.get(model)).detectImage(bytes), (await inline.get(model)).detectImage(bytes)]);
    expect(a.objects.length).toBeGreaterThan(0);
    expect(a.objects).toEqual(b.objects);
    expect([a.width, a.height]).toEqual([b.width, b.height]);
    expect(a.timings.totalMs).toBeGreaterThanOrEqual(a.timings.inferMs);
  });

  it('routes concurrent requests to the callers that made them', async () => {
    const d = await worker.get('nanodet');
    const frames = await Promise.all(['chelsea.jpg', 'astronaut.jpg', 'rocket.jpg'].map(rgb));
    const one = await Promise.all(frames.map(async (f) => (await inline.get('nanodet')).detectFrame(f)));
    const order = [0, 1, 2, 2, 1, 0, 1, 0, 2];
    const many = await Promise.all(order.map((i) => d.detectFrame(frames[i]!)));
    many.forEach((r, k) => expect(r.objects).toEqual(one[order[k]!]!.objects));
  });

  it('reads a frame that is a view into a larger buffer and leaves the caller its buffer', async () => {
    const f = await rgb('chelsea.jpg');
    const big = new Uint8Array(f.data.length + 1000);
    big.set(f.data, 500);
    const view = big.subarray(500, 500 + f.data.length);
    const d = await worker.get('nanodet');
    const r = await d.detectFrame({ data: view, width: f.width, height: f.height });
    expect(r.objects).toEqual((await (await inline.get('nanodet')).detectFrame(f)).objects);
    expect(big.byteLength).toBe(f.data.length + 1000); // not transferred away
    expect(view[0]).toBe(f.data[0]);
  });

  it('reads frames in shared memory where they are (a video job\'s pooled buffers), alone and as a batch', async () => {
    const photos = await Promise.all(['chelsea.jpg', 'astronaut.jpg'].map(rgb));
    const shared = photos.map((f) => {
      const data = new Uint8Array(new SharedArrayBuffer(f.data.length + 64)).subarray(0, f.data.length); // pooled buffers may be larger
      data.set(f.data);
      return { data, width: f.width, height: f.height };
    });
    for (const model of ['blazeface', 'nanodet']) {
      const want = await Promise.all(photos.map(async (f) => (await inline.get(model)).detectFrame(f)));
      const d = await worker.get(model);
      expect((await d.detectFrame(shared[1]!)).objects, model).toEqual(want[1]!.objects);
      const batch = await d.detectFrames(shared);
      batch.forEach((r, k) => expect(r.objects, `${model} frame ${k}`).toEqual(want[k]!.objects));
    }
    shared.forEach((f, k) => expect(Buffer.from(f.data).equals(Buffer.from(photos[k]!.data))).toBe(true)); // untouched
  });

  it('keeps the event loop turning while the model runs', async () => {
    const d = await worker.get('nanodet');
    const f = await rgb('chelsea.jpg');
    let turns = 0;
    let on = true;
    const spin = (): void => {
      if (!on) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const r = await d.detectFrame(f);
    on = false;
    // With the model on this thread, session.run holds the loop for all of inferMs (several ms here):
    // no turn at all could happen while it runs. In the worker the loop turns freely.
    expect(r.timings.inferMs).toBeGreaterThan(1);
    expect(turns).toBeGreaterThan(10);
  });

  it('turns bad frames into VALIDATION_FAILED without hurting the worker', async () => {
    const d = await worker.get('blazeface');
    await expect(d.detectFrame({ data: new Uint8Array(10), width: 4, height: 4 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const f = await rgb('astronaut.jpg');
    expect((await d.detectFrame(f)).objects).toHaveLength(1);
  });

  it('after close, calls fail with UNAVAILABLE', async () => {
    const e = await open('worker');
    const d = await e.get('blazeface');
    const f = await rgb('astronaut.jpg');
    const inFlight = d.detectFrame(f);
    await e.close();
    expect((await inFlight).objects).toHaveLength(1); // a call in flight is answered before the worker ends
    await expect(d.detectFrame(f)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await e.close();
  });
});

describe('model pool (several workers of one model)', () => {
  it('plans two workers on two or more cores and shares the cores out between their sessions', () => {
    expect(planWorkers('auto', 2, 0)).toEqual({ workers: 2, auto: true, intraOpThreads: 1 });
    expect(planWorkers('auto', 16, 0)).toEqual({ workers: 2, auto: true, intraOpThreads: 8 });
    expect(planWorkers('auto', 1, 0)).toEqual({ workers: 1, auto: true, intraOpThreads: 0 });
    expect(planWorkers(3, 2, 4)).toEqual({ workers: 3, auto: false, intraOpThreads: 4 });
  });

  it('shares the frames of one call out between its workers and answers them in order, as one worker would', async () => {
    const e = await DetectionEngine.open({ modelsDir: MODELS_DIR, providers: ['cpu'], intraOpThreads: 0, interOpThreads: 1, workers: 2, cores: 2 });
    try {
      const d = await e.get('blazeface');
      expect(d).toBeInstanceOf(ModelPool);
      expect(d.parallelism).toBe(2);
      expect(e.workers()).toEqual({ blazeface: 2 });
      const photos = await Promise.all(['astronaut.jpg', 'chelsea.jpg', 'rocket.jpg', 'coffee.jpg'].map(rgb));
      const frames = [0, 1, 2, 3, 0].map((i) => photos[i]!);
      const alone = await inline.get('blazeface');
      const want = [];
      for (const f of frames) want.push((await alone.detectFrame(f)).objects);
      const call = d.detectFrames(frames);
      // Both workers hold a share of this one call (BlazeFace has no batch dimension).
      expect((d as ModelPool).inFlight).toEqual([1, 1]);
      expect((await call).map((r) => r.objects)).toEqual(want);
      // Single calls go to the less busy worker.
      const two = [d.detectFrame(frames[0]!), d.detectFrame(frames[1]!)];
      expect((d as ModelPool).inFlight).toEqual([1, 1]);
      expect((await Promise.all(two)).map((r) => r.objects)).toEqual(want.slice(0, 2));
    } finally {
      await e.close();
    }
  });
});
