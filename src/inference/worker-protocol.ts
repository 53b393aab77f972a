/** Messages between WorkerModel (main thread) and model-worker.ts. */
import type { ErrorCode } from '../errors.js';
import type { ModelManifest } from './manifest.js';
import type { SessionOptions, UnavailableProvider } from './session.js';
import type { ClassifyResult, DetectResult, ModelInfo, Region } from './types.js';

export interface WorkerInit {
  manifest: ModelManifest;
  modelPath: string;
  info: ModelInfo;
  session: Omit<SessionOptions, 'logger'>;
}

export type WorkerRequest =
  /** One frame, or several as one batch (`detectFrames`). */
  | { type: 'detect'; id: number; frames: { width: number; height: number; data: Uint8Array }[] }
  /** Regions of one frame through a classifier (the whole frame when `regions` is absent). */
  | { type: 'classify'; id: number; frame: { width: number; height: number; data: Uint8Array }; regions?: Region[] }
  | { type: 'close' };

export interface WireError {
  code?: ErrorCode;
  message: string;
}

export type WorkerReply =
  | { type: 'ready'; provider: string; batchable: boolean; unavailable: UnavailableProvider[] }
  | { type: 'failed'; error: WireError }
  | { type: 'log'; level: 'info' | 'warn'; obj: object; msg?: string }
  | { type: 'result'; id: number; results: DetectResult[] }
  | { type: 'result'; id: number; classified: ClassifyResult }
  | { type: 'result'; id: number; error: WireError };
