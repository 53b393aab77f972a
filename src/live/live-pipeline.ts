/**
 * The pipeline stage of one live session: each processed frame's detections go through the session's Pipeline
 * (filters, tracker, zones, classifier) strictly in frame order, and what the tracker and zones saw becomes
 * `track` and `zone` messages. `live.configure` (WebSocket) or `{type: "configure"}` (data channel) changes the
 * classes, score, zones or classifier from the next frame on; a bad one changes nothing.
 */
import { AppError } from '../errors.js';
import type { Classifier, Detection, RgbFrame } from '../inference/types.js';
import type { Pipeline, PipelineOutput } from '../pipeline/pipeline.js';
import { specFromJson, type PipelineSpec } from '../pipeline/spec.js';
import type { ConfiguredMessage, TrackMessage, ZoneMessage } from './messages.js';

/** Fields `live.configure` may change. */
const CONFIGURABLE = new Set(['classes', 'minScore', 'zones', 'classifier', 'classifyLabels', 'maxDetections']);
const FIXED = new Set(['model', 'track']);

export class LivePipeline {
  readonly #sessionId: string;
  readonly #pipeline: Pipeline;
  readonly #load: (name: string) => Promise<Classifier>;

  constructor(sessionId: string, pipeline: Pipeline, load: (name: string) => Promise<Classifier>) {
    this.#sessionId = sessionId;
    this.#pipeline = pipeline;
    this.#load = load;
  }

  get counts(): Record<string, number> {
    return { ...this.#pipeline.counts };
  }

  /** The pipeline as the session runs it now (what `live.configured` and the session record show). */
  get config(): Record<string, unknown> {
    return { ...this.#pipeline.spec, track: this.#pipeline.tracking };
  }

  async process(frame: RgbFrame, objects: readonly Detection[], ptsMs: number): Promise<{ out: PipelineOutput; events: (TrackMessage | ZoneMessage)[] }> {
    const out = await this.#pipeline.process(frame, objects, ptsMs);
    return { out, events: this.#events(out) };
  }

  /** Every track ends with the session. */
  finish(ptsMs: number): (TrackMessage | ZoneMessage)[] {
    const f = this.#pipeline.finish(ptsMs);
    return this.#events(f);
  }

  /** Checks the whole change (and loads a new classifier) before applying any of it. */
  async configure(raw: Record<string, unknown>): Promise<ConfiguredMessage> {
    const fields = Object.keys(raw).filter((k) => k !== 'type' && k !== 'sessionId');
    for (const k of fields) {
      if (FIXED.has(k)) throw new AppError('VALIDATION_FAILED', `${k}: cannot change during a session; start a new one.`);
      if (!CONFIGURABLE.has(k)) throw new AppError('VALIDATION_FAILED', `${k}: not a setting; live.configure takes ${[...CONFIGURABLE].join(', ')}.`);
    }
    const spec = specFromJson(raw);
    const changes: { -readonly [K in keyof PipelineSpec]?: PipelineSpec[K] } = {};
    for (const k of ['classes', 'minScore', 'zones', 'classifyLabels', 'maxDetections'] as const) if (k in spec) (changes as Record<string, unknown>)[k] = spec[k];
    let classifier: Classifier | undefined;
    if (spec.classifier !== undefined) {
      classifier = await this.#load(spec.classifier);
      changes.classifier = spec.classifier;
    }
    const removeClassifier = raw['classifier'] === null;
    this.#pipeline.configure(changes, classifier, removeClassifier);
    return { type: 'live.configured', sessionId: this.#sessionId, config: this.config };
  }

  #events(out: Pick<PipelineOutput, 'tracks' | 'zones'>): (TrackMessage | ZoneMessage)[] {
    if (out.tracks.length === 0 && out.zones.length === 0) return [];
    const at = new Date().toISOString();
    const sessionId = this.#sessionId;
    return [
      ...out.tracks.filter((t) => t.event === 'started').map((t): TrackMessage => ({ type: 'track', sessionId, event: t.event, trackId: t.trackId, label: t.label, at })),
      ...out.zones.map((z): ZoneMessage => ({ type: 'zone', sessionId, event: z.event, zone: z.zone, trackId: z.trackId, label: z.label, at })),
      ...out.tracks.filter((t) => t.event === 'ended').map((t): TrackMessage => ({ type: 'track', sessionId, event: t.event, trackId: t.trackId, label: t.label, at })),
    ];
  }
}
