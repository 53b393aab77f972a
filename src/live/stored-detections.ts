/**
 * Reading a live session's stored detections: a page at a time (`after` a frame number, `limit` frames), or the
 * whole session streamed as NDJSON or CSV. Streams read the table in keyset pages of PAGE_ROWS frames, so an
 * hour-long session is never held in memory, and pause while the client is slow (the HTTP layer's backpressure).
 */
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { Db } from '../db/schema.js';
import type { Detection } from '../inference/index.js';

const PAGE_ROWS = 500;

export interface StoredFrame {
  /** Milliseconds since the session's first frame (the recording's timeline). */
  t: number;
  frame: number;
  rtpTimestamp: number;
  objects: Detection[];
}

export async function storedFrames(db: Db, sessionId: string, after: number, limit: number): Promise<StoredFrame[]> {
  const rows = await db
    .selectFrom('live_detections')
    .select(['frame', 't_ms', 'rtp_timestamp', 'objects'])
    .where('session_id', '=', sessionId)
    .where('frame', '>', after)
    .orderBy('frame')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ t: r.t_ms, frame: r.frame, rtpTimestamp: r.rtp_timestamp, objects: r.objects as Detection[] }));
}

async function* pages(db: Db, sessionId: string): AsyncGenerator<StoredFrame[]> {
  let after = 0;
  for (;;) {
    const page = await storedFrames(db, sessionId, after, PAGE_ROWS);
    if (page.length > 0) yield page;
    if (page.length < PAGE_ROWS) return;
    after = page[page.length - 1]!.frame;
  }
}

export const CSV_COLUMNS = ['t_ms', 'frame', 'rtp_timestamp', 'label', 'score', 'x1', 'y1', 'x2', 'y2', 'classification', 'classification_score', 'track_id', 'zones'] as const;

/** One JSON object per frame and line. */
export function ndjsonStream(db: Db, sessionId: string): Readable {
  return Readable.from(
    (async function* () {
      for await (const page of pages(db, sessionId)) yield page.map((f) => JSON.stringify(f)).join('\n') + '\n';
    })(),
    { objectMode: false },
  );
}

/** One row per object, after a header row. */
export function csvStream(db: Db, sessionId: string): Readable {
  return Readable.from(
    (async function* () {
      yield stringify([[...CSV_COLUMNS]]);
      for await (const page of pages(db, sessionId)) {
        const rows: (string | number)[][] = [];
        for (const f of page) {
          for (const o of f.objects) {
            rows.push([f.t, f.frame, f.rtpTimestamp, o.label, o.score, ...o.box, o.classification?.label ?? '', o.classification?.score ?? '', o.trackId ?? '', (o.zones ?? []).join(';')]);
          }
        }
        if (rows.length > 0) yield stringify(rows);
      }
    })(),
    { objectMode: false },
  );
}
