/**
 * `npm run bench:detect [-- --iterations 200 --threads 0 --models blazeface,nanodet --providers cpu]`
 *
 * Per model, on one photo (test/fixtures/coffee.jpg), interleaving on each iteration:
 * - raw: `session.run` alone, on an input tensor already filled;
 * - frame: `detectFrame` on a 640x480 RGB24 frame (resample + normalise, infer, decode + NMS);
 * - frame@model: `detectFrame` on the frame already scaled to the model's letterbox (what the live
 *   ffmpeg decoder hands over when told the model's size): normalise only;
 * - jpeg: `detectImage` on the 640x480 picture as JPEG bytes (+ sharp decode).
 * Prints median / p95 of each, pre+post (preprocess + postprocess) as a share of raw inference, and
 * the whole call's overhead over raw inference.
 *
 * Pipelines (`--classifier emotion`, skipped with `--classifier none`), on a 640x480 frame holding six faces:
 * - one stage: BlazeFace alone; two stages: BlazeFace, then the classifier on the six crops as one batch, and
 *   the same six crops classified one by one (six runs), to show what batching saves;
 * - the tracker's own cost per frame at 50 moving objects (ByteTrack rounds, Hungarian, Kalman).
 * Writes the figures to bench/results/detect-<time>.json.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type Sharp } from 'sharp';
import { OnnxDetector } from '../src/inference/detector.js';
import { DetectionEngine, type DetectResult, type RgbFrame } from '../src/inference/index.js';
import { computeLetterbox } from '../src/inference/letterbox.js';
import type { Detection } from '../src/inference/types.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { ByteTracker } from '../src/pipeline/tracker.js';
import { repoRoot } from './lib/repo-root.js';

interface Stats {
  median: number;
  p95: number;
  mean: number;
}
function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))] ?? NaN;
  const r = (v: number): number => Math.round(v * 1000) / 1000;
  return { median: r(at(0.5)), p95: r(at(0.95)), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}
const pct = (part: number, whole: number): number => Math.round((part / whole) * 1000) / 10;

async function rawFrame(img: Sharp, width: number, height: number): Promise<RgbFrame> {
  const { data, info } = await img.clone().resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

const root = repoRoot();
const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '200' },
    threads: { type: 'string', default: '0' },
    models: { type: 'string', default: 'blazeface,nanodet' },
    providers: { type: 'string', default: 'cpu' },
    classifier: { type: 'string', default: 'emotion' },
  },
});
const iterations = Number(values.iterations);
const threads = Number(values.threads);

const photo = sharp(await readFile(join(root, 'test/fixtures/coffee.jpg')));
const frame = await rawFrame(photo, 640, 480);
const jpeg = new Uint8Array(await sharp(frame.data, { raw: { width: 640, height: 480, channels: 3 } }).jpeg({ quality: 85 }).toBuffer());

const engine = await DetectionEngine.open({ modelsDir: join(root, 'models'), providers: values.providers.split(','), intraOpThreads: threads, interOpThreads: 1, isolation: 'inline' });
const results: Record<string, unknown> = {};
try {
  for (const name of values.models.split(',')) {
    const d = await engine.get(name);
    if (!(d instanceof OnnxDetector)) throw new Error('unexpected detector type');
    const [w, h] = d.model.inputSize;
    const lb = computeLetterbox(640, 480, w, h);
    const small = await rawFrame(photo, lb.innerW, lb.innerH);
    const paths = { frame: () => d.detectFrame(frame), 'frame@model': () => d.detectFrame(small), jpeg: () => d.detectImage(jpeg) };
    const samples: Record<string, { whole: number[]; prePost: number[]; pre: number[]; post: number[]; decode: number[]; infer: number[] }> = {};
    for (const k of Object.keys(paths)) samples[k] = { whole: [], prePost: [], pre: [], post: [], decode: [], infer: [] };
    const raw: number[] = [];
    for (let i = -20; i < iterations; i++) {
      await d.detectFrame(frame); // leaves a real input in the tensor for the raw run
      let t = performance.now();
      await d.runRaw();
      const r = performance.now() - t;
      if (i >= 0) raw.push(r);
      for (const [k, run] of Object.entries(paths)) {
        t = performance.now();
        const res: DetectResult = await run();
        const whole = performance.now() - t;
        const s = samples[k];
        if (i < 0 || !s) continue;
        s.whole.push(whole);
        s.prePost.push(res.timings.preprocessMs + res.timings.postprocessMs);
        s.pre.push(res.timings.preprocessMs);
        s.post.push(res.timings.postprocessMs);
        s.decode.push(res.timings.decodeMs);
        s.infer.push(res.timings.inferMs);
      }
    }
    const R = stats(raw);
    const perPath: Record<string, unknown> = {};
    console.log(`${name} (${d.provider}, input ${w}x${h}): raw session.run median ${R.median.toFixed(2)} ms, p95 ${R.p95.toFixed(2)} ms`);
    for (const [k, s] of Object.entries(samples)) {
      const W = stats(s.whole);
      const P = stats(s.prePost);
      const D = stats(s.decode);
      const I = stats(s.infer);
      perPath[k] = { wholeMs: W, prePostMs: P, preprocessMs: stats(s.pre), postprocessMs: stats(s.post), decodeMs: D, inferInCallMs: I, prePostPctOfRaw: pct(P.median, R.median), wholeOverRawPct: pct(W.median - R.median, R.median) };
      console.log(
        `  ${k.padEnd(12)} whole median ${W.median.toFixed(2)} ms, p95 ${W.p95.toFixed(2)} ms | pre+post ${P.median.toFixed(2)} ms (${stats(s.pre).median.toFixed(2)} + ${stats(s.post).median.toFixed(2)}) = ${pct(P.median, R.median)}% of raw` +
          ` | whole vs raw +${pct(W.median - R.median, R.median)}%${D.median > 0 ? ` (decode ${D.median.toFixed(2)} ms)` : ''}`,
      );
    }
    results[name] = { provider: d.provider, inputSize: d.model.inputSize, rawRunMs: R, paths: perPath, frameAtModelSize: `${small.width}x${small.height}` };
  }
  if (values.classifier !== 'none') results['pipeline'] = await benchPipeline(values.classifier);
  results['tracker'] = benchTracker(50);
} finally {
  await engine.close();
}

/** Six copies of the astronaut's face on a grey 640x480 frame. */
async function facesFrame(): Promise<RgbFrame> {
  const face = await sharp(await readFile(join(root, 'test/fixtures/astronaut.jpg'))).extract({ left: 160, top: 60, width: 130, height: 130 }).toBuffer();
  const spots = [[20, 40], [250, 30], [480, 50], [40, 300], [260, 320], [490, 290]] as const;
  const img = sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 96, g: 104, b: 120 } } }).composite(spots.map(([left, top]) => ({ input: face, left, top })));
  return rawFrame(sharp(await img.png().toBuffer()), 640, 480);
}

async function benchPipeline(classifierName: string): Promise<Record<string, unknown>> {
  const detector = await engine.get('blazeface');
  const classifier = await engine.classifier(classifierName);
  const faces = await facesFrame();
  const pipeline = new Pipeline({ classifier: classifierName }, { classifier }, false);
  const one: number[] = [];
  const two: number[] = [];
  const classify: number[] = [];
  const perCrop: number[] = [];
  let crops = 0;
  let runs = 0;
  for (let i = -10; i < iterations; i++) {
    let t = performance.now();
    const det = await detector.detectFrame(faces);
    const d1 = performance.now() - t;
    t = performance.now();
    const out = await pipeline.process(faces, det.objects, 0);
    const c = performance.now() - t;
    t = performance.now();
    for (const o of det.objects) await classifier.classify(faces, [o.box]);
    const alone = performance.now() - t;
    if (i < 0) continue;
    one.push(d1);
    two.push(d1 + c);
    classify.push(c);
    perCrop.push(alone);
    crops += out.classified;
    runs += out.classifierRuns;
  }
  const O = stats(one);
  const T = stats(two);
  const C = stats(classify);
  const A = stats(perCrop);
  const perFrame = { crops: crops / iterations, classifierRuns: runs / iterations };
  console.log(`pipeline blazeface -> ${classifierName} on a 640x480 frame with ${perFrame.crops} faces (${classifier.provider}):`);
  console.log(`  one stage  median ${O.median.toFixed(2)} ms, p95 ${O.p95.toFixed(2)} ms`);
  console.log(`  two stages median ${T.median.toFixed(2)} ms, p95 ${T.p95.toFixed(2)} ms (x${(T.median / O.median).toFixed(2)} of one stage)`);
  console.log(`  classifier stage: ${perFrame.classifierRuns} run per frame for ${perFrame.crops} crops, median ${C.median.toFixed(2)} ms; one run per crop instead: ${A.median.toFixed(2)} ms (batching saves ${pct(A.median - C.median, A.median)}%)`);
  return { faces: perFrame.crops, classifierRunsPerFrame: perFrame.classifierRuns, oneStageMs: O, twoStagesMs: T, classifierStageMs: C, classifierOneRunPerCropMs: A, twoOverOne: Math.round((T.median / O.median) * 100) / 100 };
}

/**
 * `n` objects moving smoothly over a 1920x1080 frame (two labels, scores 0.6-0.95), 3000 frames at 30 fps with
 * every third frame skipped as newest-frame-wins would; the first 300 frames warm the JIT and are not counted.
 */
function benchTracker(n: number): Record<string, unknown> {
  const tracker = new ByteTracker();
  const times: number[] = [];
  let started = 0;
  for (let f = 0; f < 3000; f++) {
    if (f % 3 === 2) continue;
    const dets: Detection[] = Array.from({ length: n }, (_, k) => {
      const x = (k % 10) * 180 + 60 + 50 * Math.sin(f / 25 + k);
      const y = Math.floor(k / 10) * 200 + 60 + 30 * Math.cos(f / 30 + k);
      return { label: k % 4 ? 'person' : 'car', classId: k % 4 ? 0 : 2, score: 0.6 + (k % 8) * 0.05, box: [x, y, x + 60, y + 120] };
    });
    const t = performance.now();
    const r = tracker.update(dets, f * (1000 / 30));
    if (f >= 300) times.push(performance.now() - t);
    started += r.events.filter((e) => e.event === 'started').length;
  }
  const T = stats(times);
  console.log(`tracker at ${n} objects per frame: median ${T.median.toFixed(3)} ms, p95 ${T.p95.toFixed(3)} ms per frame (target < 0.5 ms); ${started} tracks started for ${n} objects`);
  return { objects: n, perFrameMs: T, tracksStarted: started };
}

const out = {
  date: new Date().toISOString(),
  machine: { cpus: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  settings: { iterations, intraOpThreads: threads, providers: values.providers, frame: '640x480 RGB24', jpeg: `640x480 JPEG q85, ${jpeg.byteLength} bytes` },
  results,
};
await mkdir(join(root, 'bench/results'), { recursive: true });
const file = join(root, 'bench/results', `detect-${out.date.replace(/[:.]/g, '-')}.json`);
await writeFile(file, JSON.stringify(out, null, 2) + '\n');
console.log(`written ${file}`);
