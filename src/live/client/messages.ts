/**
 * The WebSocket messages a live client exchanges with the server (API.md, "WebSocket"), as types, plus
 * the small parser that turns a text frame into one of them.
 */

// The live messages are the server's own types (one definition for both ends of the wire).
import type { Detection } from '../../inference/types.js';
import type { LiveEndReason } from '../../db/schema.js';
import type { ConfiguredMessage, DetectionsMessage, EndedMessage, LiveStats, StatsMessage, TrackMessage, ZoneMessage } from '../messages.js';

export type { ConfiguredMessage, Detection, DetectionsMessage, EndedMessage, LiveStats, StatsMessage, TrackMessage, ZoneMessage };
export type EndReason = LiveEndReason;

export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

export interface LiveAnswerMessage {
  type: 'live.answer';
  sessionId: string;
  sdp: string;
}

export interface IceCandidateInit {
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export interface LiveIceMessage {
  type: 'live.ice';
  sessionId: string;
  candidate: IceCandidateInit | null;
}

export interface BalanceMessage {
  type: 'balance';
  balance: number;
}

export type ServerMessage =
  | DetectionsMessage
  | StatsMessage
  | EndedMessage
  | ErrorMessage
  | LiveAnswerMessage
  | LiveIceMessage
  | BalanceMessage
  | TrackMessage
  | ZoneMessage
  | ConfiguredMessage;

export type ClientMessage =
  | ({ type: 'live.offer'; sdp: string; model?: string; budgetMs?: number; record?: boolean; store?: boolean } & PipelineFields)
  | ({ type: 'live.configure'; sessionId: string } & PipelineFields)
  | { type: 'live.ice'; sessionId: string; candidate: IceCandidateInit | null }
  | { type: 'live.stop'; sessionId: string }
  | { type: 'subscribe'; topic: string };

const KNOWN_TYPES: ReadonlySet<string> = new Set<ServerMessage['type']>([
  'detections',
  'live.stats',
  'live.ended',
  'error',
  'live.answer',
  'live.ice',
  'balance',
  'track',
  'zone',
  'live.configured',
]);

/** A live session's pipeline, as live.offer and live.configure take it (API.md "Models and pipelines"). */
export interface PipelineFields {
  classifier?: string | null;
  classifyLabels?: string[];
  classes?: string[];
  minScore?: number;
  maxDetections?: number;
  zones?: { name: string; polygon: [number, number][]; mode?: 'include' | 'exclude' }[];
  track?: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * One text frame → a server message, or undefined for anything this client does not know (other
 * message types such as `job`, or text that is not a JSON object). Shapes are the server's word:
 * only the `type` is checked here.
 */
export function parseServerMessage(text: string): ServerMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || typeof value['type'] !== 'string' || !KNOWN_TYPES.has(value['type'])) return undefined;
  return value as unknown as ServerMessage;
}

/** Messages about one live session carry its id; `error` and `balance` do not. */
export function sessionOf(m: ServerMessage): string | undefined {
  return 'sessionId' in m ? m.sessionId : undefined;
}
