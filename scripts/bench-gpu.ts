/**
 * `npm run bench:gpu [-- --models blazeface,nanodet --providers cpu,cuda --batches 1,4,8,16 --iterations 50
 *   --threads 0 --live nanodet --ramp 1,2,4,8,16,24,32 --seconds 20 --no-live]`
 *
 * What a GPU buys, measured on whatever machine runs it:
 * 1. Inference per model on each provider (a provider that cannot load is reported with its error, not
 *    silently replaced by the CPU): `detectFrames` on batches of 640x480 frames already at the model's
 *    letterbox size (the live path), median and p95 per batch and per frame, at each batch size the model
 *    takes (BlazeFace has a fixed batch of 1). Each provider's detections are compared with the CPU's on the
 *    same frames: the largest score difference and whether the boxes agree to 0.5 px.
 * 2. Unless --no-live: how many concurrent 640x480@30 live streams of the `--live` model the server sustains
 *    (p95 within budget, at least 95% of frames processed) with batching off and on: `scripts/bench-live.ts`
 *    with `--ramp` and `--batch both`, which writes its own figures.
 * Writes part 1 to bench/results/gpu-<time>.json.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { DetectionEngine, type DetectResult, type RgbFrame } from '../src/inference/index.js';
import { computeLetterbox } from '../src/inference/letterbox.js';
import { repoRoot } from './lib/repo-root.js';

const round = (v: number, digits = 2): number => Math.round(v * 10 ** digits) / 10 ** digits;
function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))] ?? NaN;
}
const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

const PHOTOS = ['coffee.jpg', 'chelsea.jpg', 'astronaut.jpg', 'rocket.jpg'];

/** 640x480 views of the fixtures, scaled to the model's letterbox as the live decoder hands them over. */
async function framesFor(root: string, inputSize: readonly [number, number], count: number): Promise<RgbFrame[]> {
  const lb = computeLetterbox(640, 480, inputSize[0], inputSize[1]);
  const out: RgbFrame[] = [];
  for (let i = 0; i < count; i++) {
    const photo = PHOTOS[i % PHOTOS.length]!;
    const img = sharp(await readFile(join(root, 'test/fixtures', photo))).resize(640, 480, { fit: 'fill' }).resize(lb.innerW, lb.innerH, { fit: 'fill' });
    const { data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    out.push({ data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height });
  }
  return out;
}

interface Agreement {
  maxScoreDiff: number;
  boxesAgree: boolean;
  objects: number;
}

/** How far `b`'s detections are from `a`'s (the CPU's), frame by frame. */
function compare(a: readonly DetectResult[], b: readonly DetectResult[]): Agreement {
  let maxScoreDiff = 0;
  let boxesAgree = true;
  let objects = 0;
  a.forEach((ra, i) => {
    const rb = b[i]!;
    objects += ra.objects.length;
    if (ra.objects.length !== rb.objects.length) boxesAgree = false;
    ra.objects.forEach((o, k) => {
      const p = rb.objects[k];
      if (!p || p.label !== o.label) {
        boxesAgree = false;
        return;
      }
      maxScoreDiff = Math.max(maxScoreDiff, Math.abs(p.score - o.score));
      if (o.box.some((v, j) => Math.abs(v - p.box[j]!) > 0.5)) boxesAgree = false;
    });
  });
  return { maxScoreDiff: round(maxScoreDiff, 5), boxesAgree, objects };
}

interface BatchFigures {
  batch: number;
  batchMs: { median: number; p95: number };
  perFrameMs: number;
  framesPerS: number;
}
type ModelFigures = { provider: string; batchable: boolean; batches: BatchFigures[]; vsCpu?: Agreement } | { unavailable: string };

const root = repoRoot();
const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'blazeface,nanodet' },
    providers: { type: 'string', default: 'cpu,cuda' },
    batches: { type: 'string', default: '1,4,8,16' },
    iterations: { type: 'string', default: '50' },
    threads: { type: 'string', default: '0' },
    live: { type: 'string', default: 'nanodet' },
    ramp: { type: 'string', default: '1,2,4,8,16,24,32' },
    seconds: { type: 'string', default: '20' },
    'no-live': { type: 'boolean', default: false },
  },
});
const iterations = Number(values.iterations);
const batches = list(values.batches).map(Number);
if (!(iterations > 0) || batches.some((b) => !(Number.isInteger(b) && b > 0))) {
  console.error('usage: npm run bench:gpu [-- --models blazeface,nanodet --providers cpu,cuda --batches 1,4,8,16 --iterations 50 --live nanodet --ramp 1,2,4,8 --seconds 20 --no-live]');
  process.exit(2);
}

const figures: Record<string, Record<string, ModelFigures>> = {};
const cpuResults = new Map<string, DetectResult[]>();
const providers = list(values.providers).sort((a, b) => (a === 'cpu' ? -1 : b === 'cpu' ? 1 : 0)); // CPU first: the reference
for (const provider of providers) {
  figures[provider] = {};
  const engine = await DetectionEngine.open({ modelsDir: join(root, 'models'), providers: [provider], intraOpThreads: Number(values.threads), interOpThreads: 1, isolation: 'inline' });
  try {
    for (const model of list(values.models)) {
      const d = await engine.get(model);
      if (d.provider !== provider) {
        const why = d.unavailable.find((u) => u.provider === provider)?.error;
        figures[provider][model] = { unavailable: why ?? `runs on ${d.provider}` };
        console.log(`${model} on ${provider}: unavailable (${why ?? `runs on ${d.provider}`})`);
        continue;
      }
      const sizes = d.batchable ? batches : [1];
      const frames = await framesFor(root, d.model.inputSize, Math.max(...sizes, PHOTOS.length));
      const reference = frames.slice(0, PHOTOS.length);
      const rows: BatchFigures[] = [];
      for (const batch of sizes) {
        const input = frames.slice(0, batch);
        for (let i = 0; i < 5; i++) await d.detectFrames(input); // warm-up (CUDA allocates on first runs)
        const ms: number[] = [];
        for (let i = 0; i < iterations; i++) {
          const t = performance.now();
          await d.detectFrames(input);
          ms.push(performance.now() - t);
        }
        const median = quantile(ms, 0.5);
        rows.push({ batch, batchMs: { median: round(median), p95: round(quantile(ms, 0.95)) }, perFrameMs: round(median / batch), framesPerS: Math.round((1000 * batch) / median) });
        console.log(`${model} on ${provider}, batch ${batch}: ${round(median)} ms per batch (p95 ${round(quantile(ms, 0.95))}), ${round(median / batch)} ms per frame, ${Math.round((1000 * batch) / median)} frames/s`);
      }
      const results = await d.detectFrames(reference);
      let vsCpu: Agreement | undefined;
      if (provider === 'cpu') cpuResults.set(model, results);
      else if (cpuResults.has(model)) {
        vsCpu = compare(cpuResults.get(model)!, results);
        console.log(`${model} on ${provider} vs cpu: ${vsCpu.objects} objects, largest score difference ${vsCpu.maxScoreDiff}, boxes ${vsCpu.boxesAgree ? 'agree' : 'DIFFER'}`);
      }
      figures[provider][model] = { provider: d.provider, batchable: d.batchable, batches: rows, ...(vsCpu ? { vsCpu } : {}) };
    }
  } finally {
    await engine.close();
  }
}

for (const model of list(values.models)) {
  const cpu = figures['cpu']?.[model];
  for (const provider of providers.filter((p) => p !== 'cpu')) {
    const other = figures[provider]?.[model];
    if (!cpu || !other || 'unavailable' in cpu || 'unavailable' in other) continue;
    const speedup = (cpu.batches[0]!.perFrameMs / other.batches[0]!.perFrameMs).toFixed(1);
    const best = Math.max(...other.batches.map((b) => b.framesPerS));
    console.log(`${model}: ${provider} is ${speedup}x the CPU at batch 1; best ${best} frames/s batched`);
  }
}

const out = {
  date: new Date().toISOString(),
  machine: { cpus: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  settings: { iterations, batches, threads: Number(values.threads), frames: '640x480 scaled to the model letterbox' },
  inference: figures,
};
await mkdir(join(root, 'bench/results'), { recursive: true });
const file = join(root, 'bench/results', `gpu-${out.date.replace(/[:.]/g, '-')}.json`);
await writeFile(file, JSON.stringify(out, null, 2) + '\n');
console.log(`written ${file}`);

if (!values['no-live']) {
  const args = ['scripts/bench-live.ts', '--only', 'concurrent', '--model', values.live, '--ramp', values.ramp, '--batch', 'both', '--seconds', values.seconds];
  console.log(`live capacity: tsx ${args.join(' ')}`);
  const code = await new Promise<number | null>((resolve) => spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: 'inherit' }).once('exit', resolve));
  if (code !== 0) process.exitCode = 1;
}
