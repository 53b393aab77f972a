/**
 * One stream's pipeline after the detector, assembled from a spec: class/score filter -> tracker (when on) ->
 * zones (names, entered/left events per track) -> include/exclude zones -> maxDetections -> classifier on the
 * kept detections' crops, all crops of a frame as one batch. Used alike by live sessions, jobs, one-call
 * inference and the CLI. A live session swaps parts of its spec mid-stream with `configure`.
 *
 * Boxes are in the pixels of the frame handed in (the crops are cut from it); zones are fractions of it.
 */
import type { Classification, Classifier, Detection, Region, RgbFrame } from '../inference/types.js';
import { applyZones, limit, markZones, selectClasses } from './filter.js';
import type { PipelineSpec } from './spec.js';
import { ByteTracker, type TrackEvent, type TrackerOptions } from './tracker.js';
import { ZoneWatch, type ZoneEvent } from './zones.js';

export interface PipelineTimings {
  /** The classifier stage (crops + one batched run), 0 without a classifier. */
  classifyMs: number;
  /** Tracking, zones and filters. */
  trackMs: number;
}

export interface PipelineOutput {
  objects: Detection[];
  tracks: TrackEvent[];
  zones: ZoneEvent[];
  /** Crops classified (and paid for), and classifier runs (1 per frame with crops when the model batches). */
  classified: number;
  classifierRuns: number;
  timings: PipelineTimings;
}

export interface PipelineParts {
  /** The loaded classifier of `spec.classifier`. */
  readonly classifier?: Classifier;
  readonly tracker?: TrackerOptions;
  /**
   * Pays for `count` crops before they are classified (PRICE_CLASSIFIED_CROP); false when the balance does not
   * cover them: the frame's detections then go out without classifications, and nothing is charged for them.
   */
  readonly payCrops?: (count: number) => boolean | Promise<boolean>;
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

export class Pipeline {
  #spec: PipelineSpec;
  #classifier: Classifier | undefined;
  readonly #payCrops: PipelineParts['payCrops'];
  readonly #tracker: ByteTracker | undefined;
  readonly #zones = new ZoneWatch();
  /** Tracks started per label, over the stream. */
  readonly counts: Record<string, number> = {};

  constructor(spec: PipelineSpec, parts: PipelineParts, trackByDefault: boolean) {
    this.#spec = spec;
    this.#classifier = parts.classifier;
    this.#payCrops = parts.payCrops;
    this.#tracker = spec.track ?? trackByDefault ? new ByteTracker(parts.tracker) : undefined;
  }

  get spec(): PipelineSpec {
    return this.#spec;
  }

  get tracking(): boolean {
    return this.#tracker !== undefined;
  }

  /** Replaces the given fields from the next frame on (live.configure); `classifier` comes loaded. */
  configure(changes: Pick<PipelineSpec, 'classes' | 'minScore' | 'zones' | 'classifier' | 'classifyLabels' | 'maxDetections'>, classifier?: Classifier, removeClassifier = false): void {
    const zonesChanged = changes.zones !== undefined;
    const next: { -readonly [K in keyof PipelineSpec]: PipelineSpec[K] } = { ...this.#spec, ...changes };
    if (changes.classifier !== undefined) this.#classifier = classifier;
    else if (removeClassifier) {
      this.#classifier = undefined;
      delete next.classifier;
    }
    this.#spec = next;
    if (zonesChanged) this.#zones.reset();
  }

  async process(frame: RgbFrame, detections: readonly Detection[], atMs: number): Promise<PipelineOutput> {
    const spec = this.#spec;
    const t0 = performance.now();
    let objects = selectClasses(detections, spec);
    let tracks: TrackEvent[] = [];
    let zoneEvents: ZoneEvent[] = [];
    if (this.#tracker) {
      const r = this.#tracker.update(objects, atMs);
      objects = r.objects;
      tracks = r.events;
      for (const e of tracks) if (e.event === 'started') this.counts[e.label] = (this.counts[e.label] ?? 0) + 1;
    }
    objects = markZones(objects, spec.zones, frame.width, frame.height);
    if (this.#tracker && spec.zones && spec.zones.length > 0) {
      const tracked = objects.filter((o): o is Detection & { trackId: number } => o.trackId !== undefined).map((o) => ({ trackId: o.trackId, label: o.label, zones: o.zones ?? [] }));
      zoneEvents = this.#zones.update(tracked, tracks.filter((e) => e.event === 'ended').map((e) => e.trackId));
    }
    objects = limit(applyZones(objects, spec.zones), spec.maxDetections);
    const t1 = performance.now();
    let classified = 0;
    let classifierRuns = 0;
    const classifier = this.#classifier;
    if (classifier) {
      const wanted = spec.classifyLabels && spec.classifyLabels.length > 0 ? new Set(spec.classifyLabels) : undefined;
      const picks = objects.map((o, i) => (!wanted || wanted.has(o.label) ? i : -1)).filter((i) => i >= 0);
      if (picks.length > 0 && (!this.#payCrops || (await this.#payCrops(picks.length)))) {
        const regions: Region[] = picks.map((i) => objects[i]!.box);
        const r = await classifier.classify(frame, regions);
        const out = [...objects];
        picks.forEach((i, k) => {
          const c: Classification | undefined = r.classifications[k];
          if (c) out[i] = { ...out[i]!, classification: c };
        });
        objects = out;
        classified = picks.length;
        classifierRuns = r.runs;
      }
    }
    const t2 = performance.now();
    return { objects, tracks, zones: zoneEvents, classified, classifierRuns, timings: { classifyMs: round3(t2 - t1), trackMs: round3(t1 - t0) } };
  }

  /** The stream ended: every track ends (and leaves its zones). */
  finish(atMs: number): { tracks: TrackEvent[]; zones: ZoneEvent[] } {
    const tracks = this.#tracker?.finish(atMs) ?? [];
    const zones = this.#zones.update([], tracks.map((t) => t.trackId));
    return { tracks, zones };
  }
}
