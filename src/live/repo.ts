/** Live-session rows: created when a session starts, touched every second, finalised when it ends. */
import { sql } from 'kysely';
import type { Db, DbOrTx, LiveEndReason, LiveSessionRow } from '../db/schema.js';
import { toTokens } from '../tokens/amount.js';
import { refund } from '../tokens/ledger.js';

export interface LiveProgress {
  codec: string | null;
  width: number | null;
  height: number | null;
  framesIn: number;
  framesProcessed: number;
  framesDropped: number;
  droppedStale: number;
  droppedLate: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  tokensChargedMilli: number;
  /** Tracks started per label. */
  counts: Record<string, number>;
}

export async function insertLiveSession(
  db: Db,
  s: { id: string; userId: string; model: string; via: 'ws' | 'whip'; budgetMs: number; nodeId: string; pipeline: Record<string, unknown>; storesDetections: boolean },
): Promise<void> {
  await db
    .insertInto('live_sessions')
    .values({ id: s.id, user_id: s.userId, model: s.model, via: s.via, budget_ms: s.budgetMs, node_id: s.nodeId, pipeline: JSON.stringify(s.pipeline), stores_detections: s.storesDetections })
    .execute();
}

/** Links the recording to the session as soon as it is being written, so a crash cannot orphan it. */
export async function setRecordingPath(db: Db, id: string, recordingPath: string): Promise<void> {
  await db.updateTable('live_sessions').set({ recording_path: recordingPath }).where('id', '=', id).execute();
}

function progressColumns(p: LiveProgress) {
  return {
    codec: p.codec,
    width: p.width,
    height: p.height,
    frames_in: p.framesIn,
    frames_processed: p.framesProcessed,
    frames_dropped: p.framesDropped,
    dropped_stale: p.droppedStale,
    dropped_late: p.droppedLate,
    latency_p50_ms: p.p50,
    latency_p95_ms: p.p95,
    latency_p99_ms: p.p99,
    tokens_charged_milli: p.tokensChargedMilli,
    counts: JSON.stringify(p.counts),
    heartbeat_at: sql<Date>`now()`,
  };
}

/** Writes a running session's progress; false when the row is no longer live (another server ended it as lost). */
export async function updateLiveProgress(db: DbOrTx, id: string, p: LiveProgress): Promise<boolean> {
  const r = await db.updateTable('live_sessions').set(progressColumns(p)).where('id', '=', id).where('state', '=', 'live').executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function finishLiveSession(
  db: Db,
  id: string,
  p: LiveProgress,
  end: { reason: LiveEndReason; recordingPath: string | null },
): Promise<void> {
  await db
    .updateTable('live_sessions')
    .set({ ...progressColumns(p), state: 'ended', end_reason: end.reason, recording_path: end.recordingPath, ended_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('state', '=', 'live') // one that another server ended as lost keeps what it wrote
    .execute();
}

export async function getLiveSession(db: Db, userId: string, id: string): Promise<LiveSessionRow | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  return db.selectFrom('live_sessions').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

export async function listLiveSessions(db: Db, userId: string, limit: number, before?: Date): Promise<LiveSessionRow[]> {
  return db
    .selectFrom('live_sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .$if(before !== undefined, (q) => q.where('started_at', '<', before!))
    .orderBy('started_at', 'desc')
    .limit(limit)
    .execute();
}

/**
 * Sessions a crashed process left 'live': mark them ended with reason 'error' and give back their unspent
 * reservation (what they processed was charged as it went). Those of `ownNode` go at once (this process has just
 * started under that node's id, so none of them can be running); others when they have had no heartbeat for
 * `staleS`. Returns how many were closed.
 */
export async function closeAbandonedSessions(db: Db, staleS = 30, ownNode?: string): Promise<number> {
  const rows = await db
    .updateTable('live_sessions')
    .set({ state: 'ended', end_reason: 'error', ended_at: sql<Date>`heartbeat_at` })
    .where('state', '=', 'live')
    .where((eb) =>
      eb.or([
        eb('heartbeat_at', '<', sql<Date>`now() - make_interval(secs => ${staleS})`),
        ...(ownNode !== undefined ? [eb('node_id', '=', ownNode)] : []),
      ]),
    )
    .returning('id')
    .execute();
  for (const { id } of rows) {
    const holds = await db.selectFrom('token_reservations').select('id').where('ref', '=', `live:${id}`).execute();
    for (const h of holds) await refund(db, { reservationId: h.id, key: `live:${id}:refund` });
  }
  return rows.length;
}

/**
 * The sessions of a server that stopped sending heartbeats (`nodeId`): each is ended as `server_lost` with what
 * its last heartbeat recorded (every frame recorded there is charged, see LiveBilling.settle), and its unspent
 * hold is refunded. The UPDATE takes each row once, whoever else tries (a slow owner finishing it itself, another
 * server taking over too); the refund's key makes it once as well.
 */
export async function closeLostSessions(db: Db, nodeId: string): Promise<LiveSessionRow[]> {
  const rows = await db
    .updateTable('live_sessions')
    .set({ state: 'ended', end_reason: 'server_lost', ended_at: sql<Date>`heartbeat_at` })
    .where('state', '=', 'live')
    .where('node_id', '=', nodeId)
    .returningAll()
    .execute();
  for (const { id } of rows) {
    const holds = await db.selectFrom('token_reservations').select('id').where('ref', '=', `live:${id}`).execute();
    for (const h of holds) await refund(db, { reservationId: h.id, key: `live:${id}:refund` });
  }
  return rows;
}

/** A `live.ended` message's stats from a session's row (for sessions ended by another server). */
export function statsOfRow(r: LiveSessionRow): Record<string, unknown> {
  return {
    framesIn: r.frames_in,
    framesProcessed: r.frames_processed,
    framesDropped: r.frames_dropped,
    droppedStale: r.dropped_stale,
    droppedLate: r.dropped_late,
    p50Ms: r.latency_p50_ms,
    p95Ms: r.latency_p95_ms,
    p99Ms: r.latency_p99_ms,
    budgetMs: r.budget_ms,
    tokensCharged: toTokens(r.tokens_charged_milli),
    codec: r.codec,
    width: r.width,
    height: r.height,
    counts: r.counts,
  };
}

/** The contract's `session` object. */
export function toPublicSession(r: LiveSessionRow): Record<string, unknown> {
  return {
    id: r.id,
    model: r.model,
    codec: r.codec,
    width: r.width,
    height: r.height,
    state: r.state,
    ...(r.end_reason ? { endReason: r.end_reason } : {}),
    startedAt: r.started_at.toISOString(),
    ...(r.ended_at ? { endedAt: r.ended_at.toISOString() } : {}),
    framesIn: r.frames_in,
    framesProcessed: r.frames_processed,
    framesDropped: r.frames_dropped,
    droppedStale: r.dropped_stale,
    droppedLate: r.dropped_late,
    budgetMs: r.budget_ms,
    via: r.via,
    latencyMs: { p50: r.latency_p50_ms, p95: r.latency_p95_ms, p99: r.latency_p99_ms },
    tokensCharged: toTokens(r.tokens_charged_milli),
    hasRecording: r.recording_path !== null,
    storesDetections: r.stores_detections,
    pipeline: r.pipeline,
    counts: r.counts,
  };
}
