/**
 * Keeps live sessions' detections: each processed frame's objects become a row of live_detections. One store per
 * server collects the rows of every session and writes them in batches (one multi-row INSERT per FLUSH_MS or
 * BATCH_ROWS frames, whichever comes first), never a write per frame on the hot path. Writes run one at a time in
 * order; `flush` writes what is pending and waits, so a session that ends has every processed frame stored before
 * it reads as ended. A failed write is logged and its frames are lost (the sessions go on).
 */
import type { Db } from '../db/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { DetectionsMessage } from './messages.js';

const BATCH_ROWS = 500;
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
  readonly #logger: Logger;
  readonly #metrics: Metrics | undefined;
  #rows: Row[] = [];
  #writing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stored = 0;

  constructor(db: Db, logger: Logger, metrics?: Metrics) {
    this.#db = db;
    this.#logger = logger;
    this.#metrics = metrics;
  }

  /** Frames written so far. */
  get stored(): number {
    return this.#stored;
  }

  add(sessionId: string, m: DetectionsMessage, tMs: number): void {
    this.#rows.push({ session_id: sessionId, frame: m.frame, t_ms: tMs, rtp_timestamp: m.rtpTimestamp, objects: JSON.stringify(m.objects) });
    if (this.#rows.length >= BATCH_ROWS) void this.#write();
    else this.#timer ??= setTimeout(() => void this.#write(), FLUSH_MS);
  }

  #write(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#rows.length === 0) return this.#writing;
    const rows = this.#rows;
    this.#rows = [];
    this.#writing = this.#writing.then(async () => {
      const t0 = performance.now();
      try {
        await this.#db.insertInto('live_detections').values(rows).onConflict((oc) => oc.doNothing()).execute();
        this.#stored += rows.length;
        this.#metrics?.liveDetectionWrites.observe((performance.now() - t0) / 1000);
        this.#metrics?.liveDetectionsStored.inc(rows.length);
      } catch (err) {
        this.#logger.error({ err, frames: rows.length, sessions: new Set(rows.map((r) => r.session_id)).size }, 'live: storing detections failed');
      }
    });
    return this.#writing;
  }

  /** Writes what is pending (every session's) and waits for every write. */
  flush(): Promise<void> {
    return this.#write();
  }
}
