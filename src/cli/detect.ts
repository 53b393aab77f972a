/**
 * `npm run detect -- <image> [--model NAME] [--classifier NAME] [--classify-labels a,b] [--classes a,b]
 *   [--min-score S] [--max-detections N] [--annotate out.png] [--models-dir DIR] [--providers cuda,cpu] [--threads N]`
 * Prints `{model, width, height, objects, timings}` as JSON (with a classifier as --model: `classifications`,
 * the top 5, instead of `objects`); with --classifier each detection gets the classifier's answer for its crop.
 * With --annotate also writes the image with labelled boxes (PNG, JPEG or WebP by extension). Exit codes: 0 ok,
 * 1 bad image or file, 2 bad usage, unknown model or a bad pipeline option.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isAppError } from '../errors.js';
import { DetectionEngine } from '../inference/index.js';
import { annotate, type AnnotateFormat } from '../media/annotate.js';
import { decodeImage } from '../media/image.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { resolvePipeline } from '../pipeline/resolve.js';
import { specFromJson } from '../pipeline/spec.js';

const USAGE =
  'usage: npm run detect -- <image> [--model NAME] [--classifier NAME] [--classify-labels a,b] [--classes a,b] [--min-score S] [--max-detections N]\n' +
  '                          [--annotate out.png] [--models-dir DIR] [--providers cuda,cpu] [--threads N]';

/** The models folder of the repository this file belongs to (works from src/ and dist/src/). */
export function repoModelsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 5; k++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'models');
    dir = dirname(dir);
  }
  return resolve('models');
}

function fail(message: string, code: number): never {
  console.error(message);
  process.exit(code);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        classifier: { type: 'string' },
        'classify-labels': { type: 'string' },
        classes: { type: 'string' },
        'min-score': { type: 'string' },
        'max-detections': { type: 'string' },
        annotate: { type: 'string' },
        'models-dir': { type: 'string' },
        providers: { type: 'string', default: 'cpu' },
        threads: { type: 'string', default: '0' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    fail(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  if (values.help) fail(USAGE, 0);
  const image = positionals[0];
  if (!image || positionals.length > 1) fail(USAGE, 2);
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 0) fail('--threads must be a non-negative integer', 2);
  const annotateExt = values.annotate ? extname(values.annotate).toLowerCase() : '';
  const format: AnnotateFormat = annotateExt === '.jpg' || annotateExt === '.jpeg' ? 'jpeg' : annotateExt === '.webp' ? 'webp' : 'png';

  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(image));
  } catch (e) {
    fail(`Cannot read ${image}: ${e instanceof Error ? e.message : String(e)}`, 1);
  }
  const engine = await DetectionEngine.open({
    modelsDir: values['models-dir'] ? resolve(values['models-dir']) : repoModelsDir(),
    providers: (values.providers ?? 'cpu').split(','),
    intraOpThreads: threads,
    interOpThreads: 1,
  });
  try {
    const spec = specFromJson({
      model: values.model,
      classifier: values.classifier,
      classifyLabels: values['classify-labels'],
      classes: values.classes,
      minScore: values['min-score'],
      maxDetections: values['max-detections'],
    });
    const resolved = await resolvePipeline(engine, spec, true);
    if (resolved.mode === 'classify') {
      const classifier = await engine.classifier(resolved.model);
      const frame = await decodeImage(bytes);
      const r = await classifier.classify(frame);
      const out = { model: resolved.model, provider: classifier.provider, width: frame.width, height: frame.height, classifications: r.classifications[0]?.top ?? [], timings: r.timings };
      console.log(JSON.stringify(out, null, 2));
      return;
    }
    const detector = await engine.get(resolved.model);
    const t0 = performance.now();
    const frame = await decodeImage(bytes);
    const decodeMs = Math.round((performance.now() - t0) * 1000) / 1000;
    const result = await detector.detectFrame(frame);
    const p = await new Pipeline(spec, resolved.classifier ? { classifier: resolved.classifier } : {}, false).process(frame, result.objects, 0);
    const totalMs = Math.round((performance.now() - t0) * 1000) / 1000;
    const timings = { ...result.timings, decodeMs, ...(resolved.classifier ? { classifyMs: p.timings.classifyMs } : {}), totalMs };
    const out = { model: detector.model.name, provider: detector.provider, width: result.width, height: result.height, objects: p.objects, timings };
    console.log(JSON.stringify(out, null, 2));
    if (values.annotate) {
      await writeFile(values.annotate, await annotate(frame, p.objects, format));
      console.error(`Annotated image written to ${values.annotate}`);
    }
  } catch (e) {
    if (isAppError(e)) fail(`${e.code}: ${e.message}`, e.code === 'NOT_FOUND' || e.code === 'VALIDATION_FAILED' ? 2 : 1);
    throw e;
  } finally {
    await engine.close();
  }
}

await main();
