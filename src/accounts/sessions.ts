/**
 * Login sessions after Lucia's guide (v3 package retired upstream): a bearer token of 160 random bits,
 * of which only the SHA-256 is stored, with a sliding expiry.
 */
import { sha256 } from '@oslojs/crypto/sha2';
import { encodeBase32LowerCaseNoPadding, encodeHexLowerCase } from '@oslojs/encoding';
import { randomBytes } from 'node:crypto';
import { notify } from '../db/listener.js';
import type { Db, DbOrTx, User } from '../db/schema.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export function generateSessionToken(): string {
  return encodeBase32LowerCaseNoPadding(randomBytes(20));
}

export function sessionIdOf(token: string): string {
  return encodeHexLowerCase(sha256(new TextEncoder().encode(token)));
}

export async function createSession(
  db: DbOrTx,
  userId: string,
  ttlDays: number,
): Promise<{ token: string; expiresAt: Date }> {
  const token = generateSessionToken();
  const expiresAt = new Date(Date.now() + ttlDays * DAY_MS);
  await db.insertInto('sessions').values({ id: sessionIdOf(token), user_id: userId, expires_at: expiresAt }).execute();
  return { token, expiresAt };
}

export interface ValidSession {
  readonly sessionId: string;
  readonly user: User;
  readonly expiresAt: Date;
  /** True when this call pushed the expiry out (a cookie should be re-issued). */
  readonly extended: boolean;
}

/**
 * Looks a token up by its hash. Expired sessions are deleted; a session used in the second half of its
 * lifetime is extended to a full lifetime again (sliding expiry).
 */
export async function validateSessionToken(db: DbOrTx, token: string, ttlDays: number): Promise<ValidSession | null> {
  if (!/^[a-z2-7]{16,64}$/.test(token)) return null;
  const sessionId = sessionIdOf(token);
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.expires_at as session_expires_at'])
    .selectAll('users')
    .where('sessions.id', '=', sessionId)
    .where('users.disabled_at', 'is', null)
    .where('users.deleted_at', 'is', null)
    .executeTakeFirst();
  if (!row) return null;
  const { session_expires_at, ...user } = row;
  const now = Date.now();
  if (session_expires_at.getTime() <= now) {
    await db.deleteFrom('sessions').where('id', '=', sessionId).execute();
    return null;
  }
  let expiresAt = session_expires_at;
  let extended = false;
  if (session_expires_at.getTime() - now < (ttlDays * DAY_MS) / 2) {
    expiresAt = new Date(now + ttlDays * DAY_MS);
    extended = true;
    await db.updateTable('sessions').set({ expires_at: expiresAt }).where('id', '=', sessionId).execute();
  }
  return { sessionId, user, expiresAt, extended };
}

/** Sent when sign-in sessions end early, so every server closes the sockets they opened. */
export const AUTH_CHANNEL = 'lookout_auth';
/** A sign-in (logout), or every sign-in of a user; `disabled`: the account was disabled, so its live sessions end too. */
export type AuthRevoked = { sessionId: string } | { userId: string; disabled?: boolean };

/** Ends a sign-in session (logout) and tells every server, which closes the WebSockets it authenticated. */
export async function invalidateSession(db: Db, sessionId: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('sessions').where('id', '=', sessionId).execute();
    await notify(tx, AUTH_CHANNEL, { sessionId } satisfies AuthRevoked);
  });
}

/** Ends every sign-in session of a user (disabled, deleted) and tells every server to close their sockets. */
export async function invalidateUserSessions(db: Db, userId: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('sessions').where('user_id', '=', userId).execute();
    await notify(tx, AUTH_CHANNEL, { userId } satisfies AuthRevoked);
  });
}

/** Of these session ids, the ones still signed in now (unexpired). */
export async function liveSessionIds(db: DbOrTx, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('sessions').select('id').where('id', 'in', [...ids]).where('expires_at', '>', new Date()).execute();
  return new Set(rows.map((r) => r.id));
}

export async function deleteExpiredSessions(db: DbOrTx): Promise<number> {
  const r = await db.deleteFrom('sessions').where('expires_at', '<=', new Date()).executeTakeFirst();
  return Number(r.numDeletedRows);
}
