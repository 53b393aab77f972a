/**
 * API keys: long-lived bearer credentials for scripts and devices (REST, the WebSocket upgrade, WHIP, the
 * Deepstack endpoint). A key is `lk_` + 160 random bits in base32; only its SHA-256 is stored, with a short prefix
 * to tell keys apart. Deleting a key revokes it at once: the next request with it gets 401, and every server
 * closes the WebSockets it opened (the sign-in channel, as for a logout).
 */
import { encodeBase32LowerCaseNoPadding } from '@oslojs/encoding';
import { randomBytes } from 'node:crypto';
import { notify } from '../db/listener.js';
import type { Db, DbOrTx, User } from '../db/schema.js';
import { AppError } from '../errors.js';
import { AUTH_CHANNEL, sessionIdOf, type AuthRevoked } from './sessions.js';

export const API_KEY_PREFIX = 'lk_';
const KEY_SHAPE = /^lk_[a-z2-7]{32}$/;
/** Keys one user may hold. */
export const MAX_KEYS_PER_USER = 50;
/** last_used_at is written at most this often per key, not on every request. */
const TOUCH_EVERY_MS = 60_000;

/** The id under which a key's WebSockets are tracked (beside sign-in session ids, which are hex). */
export const keySocketId = (keyId: string): string => `key:${keyId}`;

export interface PublicApiKey {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
}

type Row = { id: string; name: string; prefix: string; created_at: Date; expires_at: Date | null; last_used_at: Date | null };

export function toPublicApiKey(r: Row): PublicApiKey {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    createdAt: r.created_at.toISOString(),
    ...(r.expires_at ? { expiresAt: r.expires_at.toISOString() } : {}),
    ...(r.last_used_at ? { lastUsedAt: r.last_used_at.toISOString() } : {}),
  };
}

export const looksLikeApiKey = (token: string): boolean => token.startsWith(API_KEY_PREFIX);

export async function createApiKey(db: Db, userId: string, input: { name: unknown; expiresAt: unknown }): Promise<{ apiKey: PublicApiKey; key: string }> {
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (name.length < 1 || name.length > 100) throw new AppError('VALIDATION_FAILED', 'name must be 1 to 100 characters.');
  let expiresAt: Date | null = null;
  if (input.expiresAt !== undefined && input.expiresAt !== null) {
    expiresAt = typeof input.expiresAt === 'string' ? new Date(input.expiresAt) : new Date(NaN);
    if (Number.isNaN(expiresAt.getTime()) || expiresAt.getUTCFullYear() > 9999) throw new AppError('VALIDATION_FAILED', 'expiresAt must be an ISO-8601 timestamp.');
    if (expiresAt.getTime() <= Date.now()) throw new AppError('VALIDATION_FAILED', 'expiresAt must be in the future.');
  }
  const key = API_KEY_PREFIX + encodeBase32LowerCaseNoPadding(randomBytes(20));
  return db.transaction().execute(async (tx) => {
    // Serialise per user so that two concurrent creations cannot both pass the count.
    await tx.selectFrom('users').select('id').where('id', '=', userId).forUpdate().executeTakeFirst();
    const { n } = await tx.selectFrom('api_keys').select((eb) => eb.fn.countAll<string>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
    if (Number(n) >= MAX_KEYS_PER_USER) throw new AppError('CONFLICT', `You have ${MAX_KEYS_PER_USER} API keys; delete one first.`);
    const row = await tx
      .insertInto('api_keys')
      .values({ user_id: userId, name, prefix: key.slice(0, API_KEY_PREFIX.length + 6), secret_hash: sessionIdOf(key), expires_at: expiresAt })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { apiKey: toPublicApiKey(row), key };
  });
}

export async function listApiKeys(db: DbOrTx, userId: string): Promise<PublicApiKey[]> {
  const rows = await db.selectFrom('api_keys').selectAll().where('user_id', '=', userId).orderBy('created_at', 'desc').execute();
  return rows.map(toPublicApiKey);
}

/** Deletes (revokes) a key of the user's and tells every server to close its sockets; false when there is none. */
export async function revokeApiKey(db: Db, userId: string, keyId: string): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const r = await tx.deleteFrom('api_keys').where('id', '=', keyId).where('user_id', '=', userId).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) return false;
    await notify(tx, AUTH_CHANNEL, { sessionId: keySocketId(keyId) } satisfies AuthRevoked);
    return true;
  });
}

/** The key's owner and id when `key` is a live (known, unexpired) key; records its use at most once a minute. */
export async function validateApiKey(db: Db, key: string): Promise<{ user: User; keyId: string } | null> {
  if (!KEY_SHAPE.test(key)) return null;
  const row = await db
    .selectFrom('api_keys')
    .innerJoin('users', 'users.id', 'api_keys.user_id')
    .select(['api_keys.id as key_id', 'api_keys.expires_at as key_expires_at', 'api_keys.last_used_at as key_last_used_at'])
    .selectAll('users')
    .where('api_keys.secret_hash', '=', sessionIdOf(key))
    .where('users.disabled_at', 'is', null)
    .where('users.deleted_at', 'is', null)
    .executeTakeFirst();
  if (!row) return null;
  const { key_id, key_expires_at, key_last_used_at, ...user } = row;
  if (key_expires_at && key_expires_at.getTime() <= Date.now()) return null;
  if (!key_last_used_at || Date.now() - key_last_used_at.getTime() > TOUCH_EVERY_MS) {
    await db.updateTable('api_keys').set({ last_used_at: new Date() }).where('id', '=', key_id).execute();
  }
  return { user, keyId: key_id };
}

/** Of these socket credential ids (`key:<id>`), the keys that still exist and have not expired. */
export async function liveKeyIds(db: DbOrTx, socketIds: readonly string[]): Promise<Set<string>> {
  const ids = socketIds.filter((s) => s.startsWith('key:')).map((s) => s.slice(4));
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom('api_keys')
    .select('id')
    .where('id', 'in', ids)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]))
    .execute();
  return new Set(rows.map((r) => keySocketId(r.id)));
}
