/**
 * The WebSocket messages a live client exchanges with the server (API.md, "WebSocket"), as types, plus
 * the small parser that turns a text frame into one of them. The server's extra live figures
 * (drops by cause, p99, budget, tokens) are declared too.
 */

export interface Detection {
  label: string;
  classId: number;
  score: number;
  /** [x1, y1, x2, y2] in pixels of the original frame. */
  box: [number, number, number, number];
}

export interface DetectionsMessage {
  type: 'detections';
  sessionId: string;
  /** 1-based number of the frame among those the server received in this session. */
  frame: number;
  /** RTP timestamp of the video frame the objects were found in. */
  rtpTimestamp: number;
  width: number;
  height: number;
  objects: Detection[];
  timings: { queueMs: number; decodeMs: number; inferMs: number; totalMs: number };
}

/** The figures of a live session, as sent about every second (`live.stats`) and once more at the end. */
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
  /** Server latency (last RTP packet of a frame in → its detections sent): last second in `live.stats`, whole session in `live.ended`; null before any frame. */
  p50Ms: number | null;
  p95Ms: number | null;
  /** Whole session. */
  p99Ms: number | null;
  budgetMs: number;
  /** Median detector time over the last second. */
  modelMs?: number | null;
  /** The model alone is slower than the budget: frames are processed as fast as it allows. */
  overBudget: boolean;
  warning?: string;
  tokensCharged: number;
  codec?: string | null;
  width?: number | null;
  height?: number | null;
}

export interface StatsMessage extends LiveStats {
  type: 'live.stats';
  sessionId: string;
}

export type EndReason = 'stopped' | 'disconnected' | 'insufficient_tokens' | 'error';

export interface EndedMessage {
  type: 'live.ended';
  sessionId: string;
  reason: EndReason;
  /** Whole-session figures. */
  stats: LiveStats;
  message?: string;
}

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
  | BalanceMessage;

export type ClientMessage =
  | { type: 'live.offer'; sdp: string; model?: string; budgetMs?: number; record?: boolean }
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
]);

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
