/** The detection engine's public surface (see README / docs for the manifest format). */
export type { Detection, DetectTimings, DetectResult, ModelInfo, EngineOptions, Detector, RgbFrame, Logger, ModelFamily } from './types.js';
export { DetectionEngine } from './engine.js';
export { COCO80 } from './coco-labels.js';
