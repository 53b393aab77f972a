/**
 * The model registry: reads the manifests in the models folder at open, loads a model's session on
 * first use (once; concurrent callers share the promise), and closes them all at the end.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../errors.js';
import { OnnxClassifier } from './classifier.js';
import { modelInfo, OnnxDetector } from './detector.js';
import { parseManifest, type ModelManifest } from './manifest.js';
import type { Classifier, Detector, EngineOptions, ModelInfo } from './types.js';
import { ModelPool, planWorkers } from './model-pool.js';

type Loaded = OnnxDetector | OnnxClassifier | ModelPool;

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Reads every `*.json` manifest of `dir`; bad or duplicate ones, or ones whose .onnx is missing, are logged and skipped. */
export async function readManifests(dir: string, logger?: EngineOptions['logger']): Promise<ModelManifest[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  } catch (e) {
    logger?.warn({ dir, err: e instanceof Error ? e.message : String(e) }, 'Models folder is not readable');
    return [];
  }
  const out: ModelManifest[] = [];
  for (const f of names) {
    try {
      const m = parseManifest(JSON.parse(await readFile(join(dir, f), 'utf8')) as unknown, f);
      if (out.some((o) => o.name === m.name)) throw new Error(`duplicate model name "${m.name}"`);
      const file = join(dir, m.file);
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile()) throw new Error(`${m.file} is missing (run \`npm run models:setup\`)`);
      out.push(m);
    } catch (e) {
      logger?.warn({ manifest: f, err: e instanceof Error ? e.message : String(e) }, 'Skipping model manifest');
    }
  }
  return out;
}

export class DetectionEngine {
  readonly #opts: EngineOptions;
  readonly #manifests: Map<string, ModelManifest>;
  readonly #default: string | undefined;
  readonly #loading = new Map<string, Promise<Loaded>>();
  readonly #loaded = new Map<string, Loaded>();
  /** Providers already reported unavailable: the fallback is logged once, not once per model. */
  readonly #reported = new Set<string>();
  #closed = false;

  private constructor(opts: EngineOptions, manifests: ModelManifest[]) {
    this.#opts = opts;
    this.#manifests = new Map(manifests.map((m) => [m.name, m]));
    const wanted = opts.defaultModel;
    if (wanted && !this.#manifests.has(wanted)) {
      opts.logger?.warn({ defaultModel: wanted, available: [...this.#manifests.keys()] }, 'Configured default model is not available');
    }
    const detectors = manifests.filter((m) => m.kind === 'detector');
    if (wanted && this.#manifests.get(wanted)?.kind === 'classifier') opts.logger?.warn({ defaultModel: wanted }, 'The configured default model is a classifier; the default must be a detector');
    this.#default =
      (wanted && this.#manifests.get(wanted)?.kind === 'detector' ? wanted : undefined) ?? detectors.find((m) => m.default)?.name ?? detectors[0]?.name;
  }

  static async open(opts: EngineOptions): Promise<DetectionEngine> {
    const manifests = await readManifests(opts.modelsDir, opts.logger);
    opts.logger?.info({ modelsDir: opts.modelsDir, models: manifests.map((m) => m.name) }, 'Detection models found');
    return new DetectionEngine(opts, manifests);
  }

  list(): ModelInfo[] {
    return [...this.#manifests.values()].map((m) => modelInfo(m, m.name === this.#default));
  }

  /** The default model's name; throws NOT_FOUND when there is no model at all. */
  defaultModel(): string {
    if (!this.#default) throw new AppError('NOT_FOUND', `No detection model is installed in ${this.#opts.modelsDir} (run \`npm run models:setup\`).`);
    return this.#default;
  }

  /** A detector (the default one without a name); NOT_FOUND for an unknown name, VALIDATION_FAILED for a classifier. */
  async get(name?: string): Promise<Detector> {
    const m = this.#manifest(name);
    if (m.kind !== 'detector') throw new AppError('VALIDATION_FAILED', `model: "${m.name}" is a classifier; a detector is needed here.`);
    return (await this.#model(m.name)) as Detector;
  }

  /** A classifier by name; NOT_FOUND for an unknown name, VALIDATION_FAILED for a detector. */
  async classifier(name: string): Promise<Classifier> {
    const m = this.#manifest(name);
    if (m.kind !== 'classifier') throw new AppError('VALIDATION_FAILED', `classifier: "${m.name}" is a detector, not a classifier.`);
    return (await this.#model(m.name)) as Classifier;
  }

  /** The manifest of a model, or NOT_FOUND naming the ones there are. */
  #manifest(name?: string): ModelManifest {
    const key = name ?? this.defaultModel();
    const m = this.#manifests.get(key);
    if (!m) {
      const available = [...this.#manifests.keys()];
      throw new AppError('NOT_FOUND', `Unknown model "${key}". Available: ${available.length ? available.join(', ') : '(none)'}.`);
    }
    return m;
  }

  /** The kind of a model by name, or undefined when there is none. */
  kindOf(name: string): 'detector' | 'classifier' | undefined {
    return this.#manifests.get(name)?.kind;
  }

  async #model(key: string): Promise<Loaded> {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'The detection engine is closed.');
    const m = this.#manifest(key);
    let p = this.#loading.get(key);
    if (!p) {
      p = this.#load(m);
      this.#loading.set(key, p);
      p.catch(() => this.#loading.delete(key));
    }
    return p;
  }

  async #load(m: ModelManifest): Promise<Loaded> {
    const path = join(this.#opts.modelsDir, m.file);
    if (m.sha256) {
      const actual = await sha256File(path);
      if (actual !== m.sha256) throw new AppError('UNAVAILABLE', `Model file ${m.file} does not match its manifest's sha256 (run \`npm run models:setup\`).`);
    }
    const started = performance.now();
    const info = modelInfo(m, m.name === this.#default);
    const so = {
      providers: this.#opts.providers,
      intraOpThreads: this.#opts.intraOpThreads,
      interOpThreads: this.#opts.interOpThreads,
      ...(this.#opts.logger ? { logger: this.#opts.logger } : {}),
    };
    const plan = planWorkers(this.#opts.workers ?? 1, this.#opts.cores ?? availableParallelism(), this.#opts.intraOpThreads);
    const d =
      this.#opts.isolation !== 'inline'
        ? await ModelPool.load(m, path, info, so, plan, (gone) => this.#forget(m.name, gone))
        : m.kind === 'classifier'
          ? await OnnxClassifier.load(m, path, info, so)
          : await OnnxDetector.load(m, path, info, so);
    if (this.#closed) {
      await d.close();
      throw new AppError('UNAVAILABLE', 'The detection engine is closed.');
    }
    this.#loaded.set(m.name, d);
    for (const { provider, error, skipped } of d.unavailable) {
      if (this.#reported.has(provider)) continue;
      this.#reported.add(provider);
      if (skipped) {
        // The expected state of a machine without a GPU: one plain line, no error.
        if (!this.#reported.has('skipped')) this.#opts.logger?.info({ provider: d.provider }, `Models run on the ${d.provider.toUpperCase()}: ${error}`);
        this.#reported.add('skipped');
        continue;
      }
      this.#opts.logger?.warn(
        { provider, fallback: d.provider, err: error },
        `Execution provider ${provider} is unavailable; models run on ${d.provider} instead` + (provider === 'cuda' ? ' (`npm run gpu:setup` says what is missing)' : ''),
      );
    }
    this.#opts.logger?.info({ model: m.name, provider: d.provider, workers: d instanceof ModelPool ? d.parallelism : 0, loadMs: Math.round(performance.now() - started) }, 'Detection model loaded');
    return d;
  }

  /** A worker that died is dropped, so the next request loads the model again. */
  #forget(name: string, gone: Loaded): void {
    if (this.#loaded.get(name) !== gone) return;
    this.#loaded.delete(name);
    this.#loading.delete(name);
    if (!this.#closed) this.#opts.logger?.warn({ model: name }, 'Detection model unloaded after its worker stopped; it loads again on the next request');
  }

  /** Worker threads (sessions) of each loaded model, e.g. { nanodet: 2 }; 0 for one run inline. */
  workers(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, d] of this.#loaded) out[name] = d instanceof ModelPool ? d.parallelism : 0;
    return out;
  }

  /** Active execution providers of the loaded models, e.g. { nanodet: ['cpu'] }. */
  providers(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [name, d] of this.#loaded) out[name] = [d.provider];
    return out;
  }

  /** Closes every loaded session; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = [...this.#loading.values()].map((p) => p.then((d) => d.close(), () => undefined));
    await Promise.all(pending);
    this.#loaded.clear();
    this.#loading.clear();
  }
}
