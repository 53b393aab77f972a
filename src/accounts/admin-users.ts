/**
 * What an administrator does to accounts: a searchable list paged by a cursor, role changes, disabling, and the
 * guard that keeps at least one active admin. Each change and its audit entry commit together.
 */
import { sql } from 'kysely';
import { notify } from '../db/listener.js';
import type { Db, DbOrTx, User } from '../db/schema.js';
import { AppError } from '../errors.js';
import { audit, type Actor } from './audit.js';
import { AUTH_CHANNEL, type AuthRevoked } from './sessions.js';
import { toPublicUser, type PublicUser } from './users.js';

export interface AdminUser extends PublicUser {
  disabled: boolean;
  lastLoginAt: string | null;
}

export function toAdminUser(u: User): AdminUser {
  return { ...toPublicUser(u), disabled: u.disabled_at !== null, lastLoginAt: u.last_login_at?.toISOString() ?? null };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Cursor: the last row's (created_at, id), opaque to clients. Keyset paging: rows inserted meanwhile shift
 * nothing. The time is PostgreSQL's own text at microseconds (a JS Date would round to milliseconds).
 */
function encodeCursor(key: string, id: string): string {
  return Buffer.from(JSON.stringify([key, id])).toString('base64url');
}

const TIME_KEY = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;

function decodeCursor(cursor: string): [string, string] {
  const bad = new AppError('VALIDATION_FAILED', 'cursor is not valid.');
  if (cursor.length > 200) throw bad;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad;
  }
  if (!Array.isArray(v) || typeof v[0] !== 'string' || typeof v[1] !== 'string' || !UUID.test(v[1]) || !TIME_KEY.test(v[0])) throw bad;
  return [v[0], v[1]];
}

/** Users (not deleted) oldest first, optionally only those whose email contains `query`. */
export async function listUsersPage(db: DbOrTx, o: { query?: string; cursor?: string; limit: number }): Promise<{ users: AdminUser[]; next?: string }> {
  const q = o.query?.trim().toLowerCase();
  if (q !== undefined && q.length > 254) throw new AppError('VALIDATION_FAILED', 'query is at most 254 characters.');
  const after = o.cursor ? decodeCursor(o.cursor) : undefined;
  const rows = await db
    .selectFrom('users')
    .selectAll()
    .select(sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`.as('time_key'))
    .where('deleted_at', 'is', null)
    .$if(!!q, (qb) => qb.where(sql<boolean>`strpos(email, ${q}) > 0`))
    .$if(after !== undefined, (qb) => qb.where(sql<boolean>`(created_at, id) > ((${after![0]}::timestamp at time zone 'UTC'), ${after![1]}::uuid)`))
    .orderBy('created_at')
    .orderBy('id')
    .limit(o.limit + 1)
    .execute();
  const page = rows.slice(0, o.limit);
  const users = page.map(({ time_key: _, ...u }) => toAdminUser(u));
  const last = page.at(-1);
  return rows.length > o.limit && last ? { users, next: encodeCursor(last.time_key, last.id) } : { users };
}

/** The user, locked for the rest of the transaction; NOT_FOUND for an unknown or deleted one. */
export async function lockUser(tx: DbOrTx, id: unknown): Promise<User> {
  if (typeof id !== 'string' || !UUID.test(id)) throw new AppError('NOT_FOUND', 'User not found.');
  const u = await tx.selectFrom('users').selectAll().where('id', '=', id).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
  if (!u) throw new AppError('NOT_FOUND', 'User not found.');
  return u;
}

/**
 * Refuses (409) a change that would leave no active admin: demoting, disabling or deleting the last one. The
 * active admins are locked, so two admins cannot demote each other at once.
 */
export async function keepAnAdmin(tx: DbOrTx, target: User, what: string): Promise<void> {
  if (target.role !== 'admin' || target.disabled_at !== null) return;
  const admins = await tx.selectFrom('users').select('id').where('role', '=', 'admin').where('disabled_at', 'is', null).where('deleted_at', 'is', null).forUpdate().execute();
  if (admins.every((a) => a.id === target.id)) {
    throw new AppError('CONFLICT', `${target.email} is the last active admin and cannot be ${what}; make another admin first.`);
  }
}

/** Ends every sign-in of the user and deletes their API keys; every server closes their sockets and live sessions. */
export async function cutOff(tx: DbOrTx, userId: string): Promise<void> {
  await tx.deleteFrom('sessions').where('user_id', '=', userId).execute();
  await tx.deleteFrom('api_keys').where('user_id', '=', userId).execute();
  await notify(tx, AUTH_CHANNEL, { userId, disabled: true } satisfies AuthRevoked);
}

export async function updateUser(db: Db, actor: Actor, id: unknown, body: Record<string, unknown>): Promise<AdminUser> {
  const role = body['role'];
  const disabled = body['disabled'];
  if (role !== undefined && role !== 'user' && role !== 'admin') throw new AppError('VALIDATION_FAILED', 'role must be "user" or "admin".');
  if (disabled !== undefined && typeof disabled !== 'boolean') throw new AppError('VALIDATION_FAILED', 'disabled must be true or false.');
  if (role === undefined && disabled === undefined) throw new AppError('VALIDATION_FAILED', 'Send role and/or disabled.');
  const user = await db.transaction().execute(async (tx) => {
    let u = await lockUser(tx, id);
    if (role === 'user' && u.role === 'admin') await keepAnAdmin(tx, u, 'demoted');
    if (disabled === true && u.disabled_at === null) await keepAnAdmin(tx, u, 'disabled');
    if (role !== undefined && role !== u.role) {
      u = await tx.updateTable('users').set({ role: role }).where('id', '=', u.id).returningAll().executeTakeFirstOrThrow();
      await audit(tx, { actor, action: 'user.role_changed', targetId: u.id, target: u.email, detail: { role } });
    }
    if (disabled !== undefined && disabled !== (u.disabled_at !== null)) {
      u = await tx.updateTable('users').set({ disabled_at: disabled ? new Date() : null }).where('id', '=', u.id).returningAll().executeTakeFirstOrThrow();
      if (disabled) await cutOff(tx, u.id);
      await audit(tx, { actor, action: disabled ? 'user.disabled' : 'user.enabled', targetId: u.id, target: u.email });
    }
    return u;
  });
  return toAdminUser(user);
}
