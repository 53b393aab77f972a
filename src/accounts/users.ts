import { AppError } from '../errors.js';
import type { Db, DbOrTx, Role, User } from '../db/schema.js';
import { creditInTx } from '../tokens/ledger.js';
import { toTokens } from '../tokens/amount.js';
import { hashPassword, PASSWORD_MAX, PASSWORD_MIN, passwordLength, verifyPassword } from './password.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Emails are compared case-insensitively: stored trimmed and lower-cased. */
export function normaliseEmail(email: unknown): string {
  if (typeof email !== 'string') throw new AppError('VALIDATION_FAILED', 'email must be a string.');
  const e = email.trim().toLowerCase();
  if (e.length > 254 || !EMAIL.test(e)) throw new AppError('VALIDATION_FAILED', 'email is not a valid address.');
  return e;
}

export function checkPassword(password: unknown): string {
  if (typeof password !== 'string') throw new AppError('VALIDATION_FAILED', 'password must be a string.');
  const n = passwordLength(password);
  if (n < PASSWORD_MIN || n > PASSWORD_MAX) {
    throw new AppError('VALIDATION_FAILED', `password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters long.`);
  }
  return password;
}

export interface PublicUser {
  id: string;
  email: string;
  role: Role;
  balance: number;
  createdAt: string;
}

export function toPublicUser(u: User): PublicUser {
  return { id: u.id, email: u.email, role: u.role, balance: toTokens(u.balance_milli), createdAt: u.created_at.toISOString() };
}

const UNIQUE_VIOLATION = '23505';

/** Creates a user with the initial token grant recorded in the ledger, in one transaction. */
export async function createUser(
  db: Db,
  input: { email: unknown; password: unknown; role?: Role; initialMilli: number; alongside?: (tx: DbOrTx, user: User) => Promise<void> },
): Promise<User> {
  const email = normaliseEmail(input.email);
  const passwordHash = await hashPassword(checkPassword(input.password));
  try {
    return await db.transaction().execute(async (tx) => {
      const user = await tx
        .insertInto('users')
        .values({ email, password_hash: passwordHash, role: input.role ?? 'user' })
        .returningAll()
        .executeTakeFirstOrThrow();
      await input.alongside?.(tx, user); // an invite used up, in the same transaction
      if (input.initialMilli > 0) {
        const balance = await creditInTx(tx, {
          userId: user.id,
          amountMilli: input.initialMilli,
          reason: 'initial',
          ref: null,
          key: `initial:${user.id}`,
        });
        return { ...user, balance_milli: balance };
      }
      return user;
    });
  } catch (err) {
    if ((err as { code?: unknown }).code === UNIQUE_VIOLATION) {
      throw new AppError('CONFLICT', 'An account with this email already exists.');
    }
    throw err;
  }
}

export async function findUserByEmail(db: DbOrTx, email: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function findUserById(db: DbOrTx, id: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Creates an admin, or promotes an existing account (used by `npm run admin:create` and the
 * ADMIN_EMAIL/ADMIN_PASSWORD bootstrap).
 *
 * - `resetPassword: true` (the operator's CLI): an existing account is promoted and gets this password.
 * - `resetPassword: false` (the bootstrap at start): an existing account is promoted only when its password is
 *   this one. Otherwise anyone who registered the address first would become admin with their own password;
 *   the answer is then `refused`, nothing changes, and the caller tells the operator to use the CLI.
 */
export async function ensureAdmin(
  db: Db,
  input: { email: string; password: string; initialMilli: number; resetPassword: boolean },
): Promise<{ user: User; created: boolean; refused?: false } | { refused: true; user: User; created: false }> {
  const email = normaliseEmail(input.email);
  const existing = await findUserByEmail(db, email);
  if (!existing) {
    try {
      return { user: await createUser(db, { ...input, role: 'admin' }), created: true };
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'CONFLICT')) throw err; // another process created it first
    }
  }
  const set: { role: Role; password_hash?: string } = { role: 'admin' };
  if (input.resetPassword) {
    set.password_hash = await hashPassword(checkPassword(input.password));
  } else {
    const current = existing ?? (await findUserByEmail(db, email));
    if (!current || !(await verifyPassword(current.password_hash, input.password))) {
      return { refused: true, user: current!, created: false };
    }
    if (current.role === 'admin') return { user: current, created: false };
  }
  const user = await db.updateTable('users').set(set).where('email', '=', email).returningAll().executeTakeFirstOrThrow();
  return { user, created: false };
}

export async function listUsers(db: DbOrTx, limit: number, after?: string): Promise<User[]> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('deleted_at', 'is', null)
    .$if(after !== undefined, (q) => q.where('email', '>', after!))
    .orderBy('email')
    .limit(limit)
    .execute();
}
