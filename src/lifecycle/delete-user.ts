/**
 * Deleting an account. In one transaction: the user's datasets, jobs, live sessions (with their stored
 * detections), webhooks, sign-ins and API keys go, and the users row stays as an anonymised tombstone (no email,
 * no password, disabled), because the append-only ledger points at it and must still add up; audit entries about
 * the user lose the address. Every server is told, and ends the user's sockets and live sessions. Then the
 * tokens still held for unfinished work are returned and the balance is written off with a ledger entry of its own
 * (`account_deleted`), and last the files go: a crash before that leaves files without rows, which the repair
 * sweep removes, never a row pointing at a missing file.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { keepAnAdmin, cutOff, lockUser } from '../accounts/admin-users.js';
import { audit, type Actor } from '../accounts/audit.js';
import type { Config } from '../config.js';
import type { Db } from '../db/schema.js';
import type { Logger } from '../log.js';
import { datasetDir } from '../datasets/upload.js';
import { debit, getBalance, refund } from '../tokens/ledger.js';

export const DELETED = 'deleted user';

export async function deleteUser(db: Db, config: Pick<Config, 'dataDir'>, logger: Logger, actor: Actor, id: unknown): Promise<void> {
  const gone = await db.transaction().execute(async (tx) => {
    const u = await lockUser(tx, id);
    await keepAnAdmin(tx, u, 'deleted');
    const datasets = await tx.deleteFrom('datasets').where('user_id', '=', u.id).returning('id').execute();
    const jobs = await tx.deleteFrom('jobs').where('user_id', '=', u.id).returning('id').execute();
    const live = await tx.deleteFrom('live_sessions').where('user_id', '=', u.id).returning('recording_path').execute();
    await tx.deleteFrom('webhooks').where('user_id', '=', u.id).execute();
    await cutOff(tx, u.id);
    await tx
      .updateTable('users')
      .set({ email: `deleted-${u.id}@deleted.invalid`, password_hash: '', role: 'user', disabled_at: sql<Date>`coalesce(disabled_at, now())`, deleted_at: new Date() })
      .where('id', '=', u.id)
      .execute();
    await tx.updateTable('audit_log').set({ target: DELETED }).where('target_id', '=', u.id).execute();
    await tx.updateTable('audit_log').set({ actor: DELETED }).where('actor_id', '=', u.id).execute();
    await audit(tx, { actor, action: 'user.deleted', targetId: u.id, target: DELETED, detail: { datasets: datasets.length, jobs: jobs.length, liveSessions: live.length } });
    return { userId: u.id, datasets: datasets.map((d) => d.id), jobs: jobs.map((j) => j.id), recordings: live.flatMap((l) => (l.recording_path ? [l.recording_path] : [])) };
  });
  // Tokens held for work that will not happen come back, and the balance is written off: the ledger still sums.
  const holds = await db
    .selectFrom('token_reservations')
    .select('id')
    .where('user_id', '=', gone.userId)
    .where(sql<boolean>`held_milli - charged_milli - refunded_milli > 0`)
    .execute();
  for (const h of holds) await refund(db, { reservationId: h.id, key: `deleted:${gone.userId}:refund:${h.id}` });
  const balance = await getBalance(db, gone.userId);
  if (balance > 0) await debit(db, { userId: gone.userId, amountMilli: balance, reason: 'account_deleted', ref: null, key: `deleted:${gone.userId}` });
  const paths = [
    ...gone.datasets.map((d) => datasetDir(config.dataDir, d)),
    ...gone.jobs.map((j) => path.join(config.dataDir, 'jobs', j)),
    ...gone.recordings,
  ];
  const failed = (await Promise.allSettled(paths.map((p) => rm(p, { recursive: true, force: true })))).filter((r) => r.status === 'rejected');
  if (failed.length > 0) logger.error({ userId: gone.userId, failed: failed.length }, 'deleting a user: some files could not be removed (the repair sweep will retry)');
  logger.info({ userId: gone.userId, datasets: gone.datasets.length, jobs: gone.jobs.length, recordings: gone.recordings.length }, 'user deleted');
}
