/**
 * The retention and repair sweep, at start and every RETENTION_SWEEP_S:
 * - Retention (0 days keeps): recordings of sessions that ended more than RETENTION_RECORDINGS_DAYS ago; finished
 *   jobs (results and annotated files) and live sessions' stored detections older than RETENTION_RESULTS_DAYS.
 * - Repair: files no row points at (a crash between a purge's row delete and its file delete, or a recording
 *   whose session row is gone) are removed; rows that point at a missing file (a file lost outside Lookout)
 *   stop pointing at it.
 * Rows always go before files, in batches of BATCH, so a crash mid-sweep leaves only orphans the next sweep
 * removes. Every removal is counted in lookout_retention_removed_total{kind} and the sweep is logged.
 */
import { readdir, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db } from '../db/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

const BATCH = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY_MS = 86_400_000;

export interface SweepReport {
  recordings: number;
  jobResults: number;
  liveDetections: number;
  orphanFiles: number;
  danglingRows: number;
  bytes: number;
}

export interface SweepDeps {
  readonly db: Db;
  readonly config: Pick<Config, 'dataDir' | 'recordingsDir' | 'retention'>;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

const gone = (err: NodeJS.ErrnoException): undefined => {
  if (err.code === 'ENOENT') return undefined;
  throw err;
};

async function removeFile(file: string): Promise<number> {
  const st = await stat(file).catch(gone);
  await unlink(file).catch(gone);
  return st?.size ?? 0;
}

async function removeDir(dir: string): Promise<number> {
  let bytes = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) bytes += (await stat(path.join(dir, name)).catch(() => undefined))?.size ?? 0;
  await rm(dir, { recursive: true, force: true });
  return bytes;
}

const exists = async (file: string): Promise<boolean> => (await stat(file).catch(() => undefined)) !== undefined;

/** Recordings of sessions that ended before `cutoff`: the row forgets the path first, then the file goes. */
async function expireRecordings(db: Db, cutoff: Date, report: SweepReport): Promise<void> {
  for (;;) {
    const { rows } = await sql<{ path: string }>`
      update live_sessions s set recording_path = null
      from (select id, recording_path from live_sessions
            where state = 'ended' and ended_at < ${cutoff} and recording_path is not null limit ${BATCH}) old
      where s.id = old.id
      returning old.recording_path as path`.execute(db);
    if (rows.length === 0) return;
    report.recordings += rows.length;
    for (const r of rows) report.bytes += await removeFile(r.path);
  }
}

export async function sweep(deps: SweepDeps, now = Date.now()): Promise<SweepReport> {
  const { db, config, logger, metrics } = deps;
  const report: SweepReport = { recordings: 0, jobResults: 0, liveDetections: 0, orphanFiles: 0, danglingRows: 0, bytes: 0 };
  const { recordingsDays, resultsDays } = config.retention;

  if (recordingsDays > 0) await expireRecordings(db, new Date(now - recordingsDays * DAY_MS), report);
  if (resultsDays > 0) {
    const cutoff = new Date(now - resultsDays * DAY_MS);
    for (;;) {
      const jobs = await db
        .deleteFrom('jobs')
        .where('id', 'in', (eb) => eb.selectFrom('jobs').select('id').where('state', 'in', ['completed', 'failed', 'cancelled']).where('finished_at', '<', cutoff).limit(BATCH))
        .returning('id')
        .execute();
      if (jobs.length === 0) break;
      report.jobResults += jobs.length;
      for (const j of jobs) report.bytes += await removeDir(path.join(config.dataDir, 'jobs', j.id));
    }
    for (;;) {
      const r = await sql<{ n: string }>`
        with doomed as (
          select d.session_id, d.frame from live_detections d join live_sessions s on s.id = d.session_id
          where s.state = 'ended' and s.ended_at < ${cutoff} limit ${BATCH * 10})
        delete from live_detections d using doomed where d.session_id = doomed.session_id and d.frame = doomed.frame`.execute(db);
      const n = Number(r.numAffectedRows ?? 0);
      if (n === 0) break;
      report.liveDetections += n;
    }
  }
  await repair(deps, report);

  for (const [kind, n] of [['recordings', report.recordings], ['job_results', report.jobResults], ['live_detections', report.liveDetections], ['orphan_files', report.orphanFiles], ['dangling_rows', report.danglingRows]] as const) {
    if (n > 0) metrics?.retentionRemoved.inc({ kind }, n);
  }
  const removed = report.recordings + report.jobResults + report.liveDetections + report.orphanFiles + report.danglingRows;
  logger[removed > 0 ? 'info' : 'debug']({ ...report, recordingsDays, resultsDays }, removed > 0 ? 'retention sweep removed data' : 'retention sweep: nothing to remove');
  return report;
}

/** Files without rows go; rows pointing at missing files are mended. */
async function repair(deps: SweepDeps, report: SweepReport): Promise<void> {
  const { db, config } = deps;
  // Recordings: <RECORDINGS_DIR>/<session id>.<webm|mkv>. Kept while its session is live (the row links the file
  // a moment after ffmpeg creates it); otherwise it must be the file its session row points at.
  const names = await readdir(config.recordingsDir).catch(() => [] as string[]);
  for (let i = 0; i < names.length; i += BATCH) {
    const chunk = names.slice(i, i + BATCH);
    const ids = chunk.map((n) => n.replace(/\.[^.]*$/, '')).filter((id) => UUID.test(id));
    const rows = ids.length ? await db.selectFrom('live_sessions').select(['id', 'state', 'recording_path']).where('id', 'in', ids).execute() : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const name of chunk) {
      const file = path.join(config.recordingsDir, name);
      const row = byId.get(name.replace(/\.[^.]*$/, ''));
      if (row && (row.state === 'live' || row.recording_path === file)) continue;
      if (!(await stat(file).catch(() => undefined))?.isFile()) continue;
      report.bytes += await removeFile(file);
      report.orphanFiles++;
    }
  }
  // Job folders: <DATA_DIR>/jobs/<job id> whose job is gone (a job's row exists before its first file).
  const jobsDir = path.join(config.dataDir, 'jobs');
  const dirs = await readdir(jobsDir).catch(() => [] as string[]);
  for (let i = 0; i < dirs.length; i += BATCH) {
    const chunk = dirs.slice(i, i + BATCH);
    const ids = chunk.filter((d) => UUID.test(d));
    const known = new Set(ids.length ? (await db.selectFrom('jobs').select('id').where('id', 'in', ids).execute()).map((r) => r.id) : []);
    for (const id of chunk) {
      if (known.has(id)) continue;
      report.bytes += await removeDir(path.join(jobsDir, id));
      report.orphanFiles++;
    }
  }
  // Rows that point at a missing file: ended sessions' recordings, finished jobs' annotated outputs.
  const NIL = '00000000-0000-0000-0000-000000000000'; // below every id: where keyset pages start
  let afterId = NIL;
  for (;;) {
    const rows = await db.selectFrom('live_sessions').select(['id', 'recording_path']).where('state', '=', 'ended').where('recording_path', 'is not', null).where('id', '>', afterId).orderBy('id').limit(BATCH).execute();
    if (rows.length === 0) break;
    afterId = rows[rows.length - 1]!.id;
    const missing: string[] = [];
    for (const r of rows) if (!(await exists(r.recording_path!))) missing.push(r.id);
    if (missing.length) {
      await db.updateTable('live_sessions').set({ recording_path: null }).where('id', 'in', missing).execute();
      report.danglingRows += missing.length;
    }
  }
  let after: { job: string; position: number } = { job: NIL, position: -1 };
  for (;;) {
    const rows = await db
      .selectFrom('job_files')
      .innerJoin('jobs', 'jobs.id', 'job_files.job_id')
      .select(['job_files.job_id', 'job_files.position', 'job_files.annotated_key'])
      .where('jobs.state', 'in', ['completed', 'failed', 'cancelled'])
      .where('job_files.annotated_key', 'is not', null)
      .where((eb) => eb.or([eb('job_files.job_id', '>', after.job), eb.and([eb('job_files.job_id', '=', after.job), eb('job_files.position', '>', after.position)])]))
      .orderBy('job_files.job_id')
      .orderBy('job_files.position')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    const last = rows[rows.length - 1]!;
    after = { job: last.job_id, position: last.position };
    for (const r of rows) {
      if (await exists(path.join(config.dataDir, r.annotated_key!))) continue;
      await db.updateTable('job_files').set({ annotated_key: null }).where('job_id', '=', r.job_id).where('position', '=', r.position).execute();
      report.danglingRows++;
    }
  }
}

/** Sweeps now (in the background) and every RETENTION_SWEEP_S; `stop` waits for a sweep in progress. */
export function startRetention(deps: SweepDeps & { config: Pick<Config, 'retention'> }): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const once = (): void => {
    if (running) return; // a long sweep is not started twice
    running = sweep(deps)
      .catch((err: unknown) => deps.logger.error({ err }, 'retention sweep failed'))
      .finally(() => (running = undefined));
  };
  once();
  const timer = setInterval(once, deps.config.retention.sweepMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
