/**
 * onnxruntime sessions: execution providers tried in the configured order ('cuda', 'tensorrt',
 * 'webgpu', 'cpu', ...), CPU as the last resort. A provider whose library is missing makes session
 * creation throw; that is caught and the next one is tried. The session says which providers were
 * unavailable and why; the engine logs that once per process (not once per model).
 */
import * as ort from 'onnxruntime-node';
import { cudaUnavailableReason } from './cuda-probe.js';
import type { Logger, UnavailableProvider } from './types.js';

export type { UnavailableProvider } from './types.js';

export interface SessionOptions {
  providers: readonly string[];
  intraOpThreads: number;
  interOpThreads: number;
  /** Where a detector worker's log lines go. */
  logger?: Logger;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: string;
  /** Providers tried before `provider`, with the error each gave. */
  unavailable: UnavailableProvider[];
}

/** The order to try: the configured providers (lower-cased, de-duplicated), then 'cpu'. */
export function providerOrder(providers: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of [...providers, 'cpu']) {
    const name = p.trim().toLowerCase();
    if (name && !out.includes(name)) out.push(name);
  }
  return out;
}

export async function openSession(modelPath: string, opts: SessionOptions): Promise<OpenedSession> {
  const unavailable: UnavailableProvider[] = [];
  for (const provider of providerOrder(opts.providers)) {
    const so: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      logSeverityLevel: 3,
      // Idle ORT threads must not spin: this server shares its cores with ffmpeg decoders and the event loop,
      // and spinning threads starve them (measured: live decode latency 4 ms → 60 ms under NanoDet).
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    };
    if (provider === 'cuda' || provider === 'tensorrt') {
      const reason = await cudaUnavailableReason();
      if (reason) {
        unavailable.push({ provider, error: reason, skipped: true });
        continue;
      }
    }
    if (opts.intraOpThreads > 0) so.intraOpNumThreads = opts.intraOpThreads;
    if (opts.interOpThreads > 0) so.interOpNumThreads = opts.interOpThreads;
    try {
      const session = await ort.InferenceSession.create(modelPath, so);
      return { session, provider, unavailable };
    } catch (e) {
      unavailable.push({ provider, error: e instanceof Error ? e.message : String(e) });
    }
  }
  throw new Error(`Could not create an onnxruntime session for ${modelPath}: ${unavailable.map((u) => `${u.provider}: ${u.error}`).join('; ')}`);
}

/** Whether the model's first input has a symbolic (or -1) first dimension: it takes a batch of any size. */
export function takesBatch(session: ort.InferenceSession): boolean {
  const meta = session.inputMetadata[0];
  const first = meta?.isTensor ? meta.shape[0] : undefined;
  return typeof first === 'string' || (typeof first === 'number' && first < 0);
}

/**
 * Opens a session (provider fallback), wraps it (`make`) and runs `warm` once on the result, so a model that
 * cannot run fails here, not on the first request; the session is released when either step fails.
 */
export async function openWarmed<T>(modelPath: string, opts: SessionOptions, make: (opened: OpenedSession) => T, warm: (model: T) => Promise<unknown>): Promise<T> {
  const opened = await openSession(modelPath, opts);
  try {
    const model = make(opened);
    await warm(model);
    return model;
  } catch (e) {
    await opened.session.release();
    throw e;
  }
}
