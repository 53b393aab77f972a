/**
 * Keeps a live session's detections: each processed frame's objects become a row of live_detections, written
 * in batches (one multi-row INSERT per BATCH_ROWS frames or FLUSH_MS, whichever comes first), never a write per
 * frame on the hot path. Writes run one at a time in order; `close` writes what is left, so by the time the
 * session is marked ended every processed frame is stored. A failed write is logged and its frames are lost
 * (the session goes on).
 */
import type { Db } from '../db/schema.js';
import type { Logger } from '../log.js';
import type { DetectionsMessage } from './messages.js';

const BATCH_ROWS = 100;
const FLUSH_MS = 1000;

interface Row {
  session_id: string;
  frame: number;
  t_ms: number;
  rtp_timestamp: number;
  objects: string;
}

export class DetectionStore {
  readonly #db: Db;
  readonly #sessionId: string;
  readonly #logger: Logger;
  #rows: Row[] = [];
  #writing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stored = 0;

  constructor(db: Db, sessionId: string, logger: Logger) {
    this.#db = db;
    this.#sessionId = sessionId;
    this.#logger = logger;
  }

  /** Frames written so far. */
  get stored(): number {
    return this.#stored;
  }

  add(m: DetectionsMessage, tMs: number): void {
    this.#rows.push({ session_id: this.#sessionId, frame: m.frame, t_ms: tMs, rtp_timestamp: m.rtpTimestamp, objects: JSON.stringify(m.objects) });
    if (this.#rows.length >= BATCH_ROWS) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), FLUSH_MS);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#rows.length === 0) return;
    const rows = this.#rows;
    this.#rows = [];
    this.#writing = this.#writing.then(async () => {
      try {
        await this.#db.insertInto('live_detections').values(rows).onConflict((oc) => oc.doNothing()).execute();
        this.#stored += rows.length;
      } catch (err) {
        this.#logger.error({ err, sessionId: this.#sessionId, frames: rows.length }, 'live: storing detections failed');
      }
    });
  }

  /** Writes what is left and waits for every write. */
  async close(): Promise<void> {
    this.#flush();
    await this.#writing;
  }
}
