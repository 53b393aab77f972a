/** Messages between WorkerDetector (main thread) and detector-worker.ts. */
import type { ErrorCode } from '../errors.js';
import type { ModelManifest } from './manifest.js';
import type { SessionOptions } from './session.js';
import type { DetectResult, ModelInfo } from './types.js';

export interface WorkerInit {
  manifest: ModelManifest;
  modelPath: string;
  info: ModelInfo;
  session: Omit<SessionOptions, 'logger'>;
}

export type WorkerRequest =
  | { type: 'frame'; id: number; width: number; height: number; data: Uint8Array }
  | { type: 'close' };

export interface WireError {
  code?: ErrorCode;
  message: string;
}

export type WorkerReply =
  | { type: 'ready'; provider: string }
  | { type: 'failed'; error: WireError }
  | { type: 'log'; level: 'info' | 'warn'; obj: object; msg?: string }
  | { type: 'result'; id: number; result: DetectResult }
  | { type: 'result'; id: number; error: WireError };
