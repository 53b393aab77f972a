/**
 * What the server said about one live session: its detections, stats, errors and end, kept in arrival
 * order. Messages that arrive before the session id is known are held and sorted out once it is.
 */
import type { DetectionsMessage, EndedMessage, ServerMessage, StatsMessage, TrackMessage, ZoneMessage } from './messages.js';
import { latch, sleep } from './wait.js';

export class SessionLog {
  readonly detections: DetectionsMessage[] = [];
  readonly stats: StatsMessage[] = [];
  /** `track` and `zone` events, in arrival order. */
  readonly events: (TrackMessage | ZoneMessage)[] = [];
  readonly errors: { code: string; message: string }[] = [];
  readonly #ended = latch<EndedMessage>();
  readonly #onMessage: ((m: ServerMessage) => void) | undefined;
  #sessionId: string | undefined;
  #held: ServerMessage[] = [];
  #lastDetectionAt = 0;
  #endedMessage: EndedMessage | undefined;

  constructor(onMessage?: (m: ServerMessage) => void) {
    this.#onMessage = onMessage;
  }

  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  /** Names the session; held messages of that session are taken in, others dropped. */
  bind(sessionId: string): void {
    this.#sessionId = sessionId;
    const held = this.#held;
    this.#held = [];
    for (const m of held) this.take(m);
  }

  /** One message from the socket. */
  take(m: ServerMessage): void {
    if (m.type === 'error') {
      this.errors.push({ code: m.code, message: m.message });
      this.#onMessage?.(m);
      return;
    }
    if (m.type !== 'detections' && m.type !== 'live.stats' && m.type !== 'live.ended' && m.type !== 'track' && m.type !== 'zone') return;
    if (this.#sessionId === undefined) {
      this.#held.push(m);
      return;
    }
    if (m.sessionId !== this.#sessionId) return;
    if (m.type === 'detections') {
      this.detections.push(m);
      this.#lastDetectionAt = performance.now();
    } else if (m.type === 'live.stats') this.stats.push(m);
    else if (m.type === 'track' || m.type === 'zone') this.events.push(m);
    else if (!this.#endedMessage) {
      this.#endedMessage = m;
      this.#ended.resolve(m);
    }
    this.#onMessage?.(m);
  }

  get ended(): EndedMessage | undefined {
    return this.#endedMessage;
  }

  /** Resolves with the session's `live.ended`. */
  get endedPromise(): Promise<EndedMessage> {
    return this.#ended.promise;
  }

  /**
   * After the last frame has been sent: waits until its detections arrive, the session ends, no
   * detections came for `idleMs`, or `maxMs` has passed, whichever is first.
   */
  async settle(lastRtpTimestamp: number | undefined, idleMs = 1_000, maxMs = 5_000): Promise<void> {
    const start = performance.now();
    for (;;) {
      const now = performance.now();
      const last = this.detections.at(-1);
      if (this.#endedMessage !== undefined || lastRtpTimestamp === undefined || last?.rtpTimestamp === lastRtpTimestamp) return;
      if (now - Math.max(start, this.#lastDetectionAt) > idleMs || now - start > maxMs) return;
      await sleep(20);
    }
  }
}
