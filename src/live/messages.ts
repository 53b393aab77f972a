/** What the server sends about a live session (the contract's shapes, plus documented extra fields). */
import type { Detection } from '../inference/types.js';
import type { LiveEndReason } from '../db/schema.js';
import type { ErrorCode } from '../errors.js';

export interface DetectionsMessage {
  type: 'detections';
  sessionId: string;
  /** 1-based number of the frame among those received in this session. */
  frame: number;
  rtpTimestamp: number;
  width: number;
  height: number;
  objects: Detection[];
  /** inferMs: the detector; classifyMs: the classifier stage (one batched run for the frame's crops); trackMs: tracker, zones, filters. */
  timings: { queueMs: number; decodeMs: number; inferMs: number; classifyMs: number; trackMs: number; totalMs: number };
}

export interface TrackMessage {
  type: 'track';
  sessionId: string;
  event: 'started' | 'ended';
  trackId: number;
  label: string;
  /** When the server saw it (ISO-8601). */
  at: string;
}

export interface ZoneMessage {
  type: 'zone';
  sessionId: string;
  event: 'entered' | 'left';
  zone: string;
  trackId: number;
  label: string;
  at: string;
}

export interface ConfiguredMessage {
  type: 'live.configured';
  sessionId: string;
  /** The session's whole pipeline after the change. */
  config: Record<string, unknown>;
}

export interface LiveStats {
  framesIn: number;
  framesProcessed: number;
  /** droppedStale + droppedLate + droppedOther */
  framesDropped: number;
  /** Superseded by a newer frame before the detector was free. */
  droppedStale: number;
  /** Older than the budget when the detector could have started on them. */
  droppedLate: number;
  /** Not decodable (lost packets, missing reference) or still in flight when the session ended. */
  droppedOther: number;
  /** Frames processed in the last second. */
  fps: number;
  /** Server latency (last RTP packet in → detections sent), last second. */
  p50Ms: number | null;
  p95Ms: number | null;
  /** Whole session. */
  p99Ms: number | null;
  budgetMs: number;
  /** Median time of the detector and the stages after it (classifier, tracker) over the last second. */
  modelMs: number | null;
  /** The model alone is slower than the budget: frames are processed as fast as it allows. */
  overBudget: boolean;
  warning?: string;
  tokensCharged: number;
  codec: string | null;
  width: number | null;
  height: number | null;
  /** Tracks started per label (tracking on). */
  counts: Record<string, number>;
}

export interface StatsMessage extends LiveStats {
  type: 'live.stats';
  sessionId: string;
}

export interface EndedMessage {
  type: 'live.ended';
  sessionId: string;
  reason: LiveEndReason;
  /** Whole-session figures; p50Ms/p95Ms here cover the whole session too. */
  stats: LiveStats;
  message?: string;
}

export type LiveEvent = DetectionsMessage | StatsMessage | EndedMessage | TrackMessage | ZoneMessage | ConfiguredMessage;

/** A bad message on the data channel gets this there (the WebSocket has its own `error`). */
export interface ChannelError {
  type: 'error';
  code: ErrorCode;
  message: string;
  re?: string;
}
