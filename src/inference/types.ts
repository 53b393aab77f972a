/** The engine's public shapes (the contract's detection shape plus timings and model facts). */

export interface Detection {
  label: string;
  classId: number;
  score: number;
  /** [x1, y1, x2, y2] in pixels of the source image or frame, clamped to it. */
  box: [number, number, number, number];
  /** The classifier stage's answer for this detection's crop (top 5 in `top`). */
  classification?: Classification;
  /** Stable for one object within one live session or video. */
  trackId?: number;
  /** The zones the box's bottom-centre point is in. */
  zones?: string[];
}

export interface LabelScore {
  label: string;
  score: number;
}

/** A classifier's answer: the best label and the top 5 (best first). */
export interface Classification extends LabelScore {
  top: LabelScore[];
}

export interface ClassifyTimings {
  preprocessMs: number;
  inferMs: number;
  totalMs: number;
}

/** One classifier call: one classification per region (the whole frame when no regions were given). */
export interface ClassifyResult {
  classifications: Classification[];
  /** Inference runs the call took (1 when the model takes a batch, else one per region). */
  runs: number;
  timings: ClassifyTimings;
}

/** A region of a frame to classify, in its pixels: [x1, y1, x2, y2]. */
export type Region = readonly [number, number, number, number];

export interface Classifier {
  readonly model: ModelInfo;
  readonly provider: string;
  readonly unavailable: readonly UnavailableProvider[];
  readonly batchable: boolean;
  /** Calls that may usefully run at once (sessions of the model in their own threads); 1 when absent. */
  readonly parallelism?: number;
  /** Classifies each region of the frame (grown by the manifest's cropPadding), or the whole frame. */
  classify(frame: RgbFrame, regions?: readonly Region[]): Promise<ClassifyResult>;
}

export interface DetectTimings {
  decodeMs: number;
  preprocessMs: number;
  inferMs: number;
  postprocessMs: number;
  totalMs: number;
}

export interface DetectResult {
  width: number;
  height: number;
  objects: Detection[];
  timings: DetectTimings;
}

export type ModelFamily = 'blazeface' | 'nanodet' | 'yolo' | 'classifier';

export interface ModelInfo {
  name: string;
  kind: 'detector' | 'classifier';
  family: ModelFamily;
  inputSize: [number, number];
  labels: string[];
  default: boolean;
}

export interface Logger {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

export interface EngineOptions {
  /** Folder holding `<name>.json` manifests and their `.onnx` files. */
  modelsDir: string;
  /** Execution providers to try in order, e.g. ['cuda', 'cpu']; CPU is always the last resort. */
  providers: string[];
  /** Threads inside one operator (0 = onnxruntime's choice, or the cores shared out among a model's workers). */
  intraOpThreads: number;
  /** Worker threads (sessions) per model with 'worker' isolation: a count, or 'auto' (see model-pool.ts); default 1. */
  workers?: number | 'auto';
  /** Cores to plan threads for (default: os.availableParallelism()). */
  cores?: number;
  /** Threads across operators (0 = onnxruntime's choice). */
  interOpThreads: number;
  /** Overrides the manifests' `default` flag. */
  defaultModel?: string;
  /**
   * Where sessions run: 'worker' (default) gives each model its own worker thread, so inference never
   * blocks the event loop; 'inline' runs them on the calling thread (benchmarks of the raw session).
   */
  isolation?: 'worker' | 'inline';
  logger?: Logger;
}

/** A packed RGB24 frame: `data.length >= width * height * 3`, rows top to bottom, no padding. */
export interface RgbFrame {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A configured execution provider that could not be used, and the error it gave. */
export interface UnavailableProvider {
  provider: string;
  error: string;
  /** True when it was not even tried: the machine lacks what it needs (no GPU libraries), an expected state. */
  skipped?: boolean;
}

export interface Detector {
  readonly model: ModelInfo;
  /** The execution provider the session runs on ('cpu', 'cuda', ...). */
  readonly provider: string;
  /** Providers tried before `provider`, with the error each gave. */
  readonly unavailable: readonly UnavailableProvider[];
  /** How frames are fitted to the model input (the live decoder scales to the same geometry). */
  readonly resize: 'letterbox' | 'stretch';
  /**
   * Whether the model takes a batch dimension (its input's first dimension is symbolic): then
   * `detectFrames` runs several frames as one inference; otherwise it runs them one by one.
   */
  readonly batchable: boolean;
  /** Calls that may usefully run at once (sessions of the model in their own threads); 1 when absent. */
  readonly parallelism?: number;
  detectImage(bytes: Uint8Array): Promise<DetectResult>;
  detectFrame(frame: RgbFrame): Promise<DetectResult>;
  /**
   * Detections for each frame, in order. Batched, every result's `inferMs` is the whole batch's inference
   * and `totalMs` the whole call; the detections are the same as `detectFrame` gives for each frame alone.
   */
  detectFrames(frames: readonly RgbFrame[]): Promise<DetectResult[]>;
}

/** A detection before label lookup and mapping back to the source image (model input pixels). */
export interface Candidate {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  classId: number;
}

/** An output tensor as the decoders see it. */
export interface OutputTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}
export type Outputs = Readonly<Record<string, OutputTensor>>;
