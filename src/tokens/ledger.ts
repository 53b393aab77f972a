/**
 * The token balance and its append-only ledger. Every change to `users.balance_milli` happens here, in the
 * same transaction as the ledger row that records it, so the ledger always sums to the balance.
 *
 * - credit/debit move tokens in or out of the spendable balance (top-ups, initial grant, direct charges).
 * - reserve/charge/refund serve live sessions and jobs: `reserve` moves tokens from the balance into a
 *   hold (ledger: "reserve"), `charge` marks held tokens as spent (no balance change, so no ledger row; one
 *   row in token_charges per idempotency key), and `refund` returns what is held but unspent (ledger:
 *   "refund"). Spent tokens are therefore reserve − refund for a reference, and the ledger agrees.
 *
 * Every operation takes an idempotency key: repeating it returns the first result and changes nothing.
 * The balance never goes negative: debits are a conditional UPDATE (`balance >= amount`) backed by a CHECK.
 */
import { sql } from 'kysely';
import { AppError, isAppError } from '../errors.js';
import type { Db, DbOrTx, LedgerEntry } from '../db/schema.js';
import { toTokens } from './amount.js';

export type LedgerReason = 'initial' | 'top_up' | 'adjustment' | 'account_deleted' | 'charge' | 'reserve' | 'refund';

export interface BalanceChange {
  /** False when the idempotency key had already been used: nothing changed this time. */
  readonly applied: boolean;
  readonly balanceMilli: number;
  readonly entryId: number | undefined;
}

export interface Movement {
  readonly userId: string;
  readonly amountMilli: number;
  readonly reason: LedgerReason;
  readonly ref?: string | null;
  /** Unique across the whole ledger; callers namespace it, e.g. `topup:<adminId>:<key>`. */
  readonly key?: string | null;
  /** Why (an admin's adjustment), shown in the ledger. */
  readonly note?: string | null;
  /** Runs in the same transaction once the movement applied (an audit entry): both commit or neither. */
  readonly alongside?: (tx: DbOrTx, balanceMilli: number) => Promise<void>;
}

const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (e: unknown): boolean =>
  typeof e === 'object' && e !== null && (e as { code?: unknown }).code === UNIQUE_VIOLATION;

/** Listeners told about every committed balance change (the WebSocket hub sends `balance` messages). */
type BalanceListener = (userId: string, balanceMilli: number) => void;
const listeners = new Set<BalanceListener>();
export function onBalanceChange(listener: BalanceListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
function notify(userId: string, balanceMilli: number): void {
  for (const l of listeners) l(userId, balanceMilli);
}

function assertAmount(amountMilli: number): void {
  if (!Number.isSafeInteger(amountMilli) || amountMilli <= 0) {
    throw new AppError('VALIDATION_FAILED', 'Amount must be a positive number of tokens.');
  }
}

async function currentBalance(db: DbOrTx, userId: string): Promise<number> {
  const row = await db.selectFrom('users').select('balance_milli').where('id', '=', userId).executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', 'User not found.');
  return row.balance_milli;
}

async function priorEntry(db: DbOrTx, key: string): Promise<LedgerEntry | undefined> {
  return db.selectFrom('token_ledger').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
}

/** Inside a transaction: apply a signed change and write its ledger row. Throws INSUFFICIENT_TOKENS on debit. */
async function applyInTx(tx: DbOrTx, m: Movement, sign: 1 | -1): Promise<{ balanceMilli: number; entryId: number }> {
  const delta = sign * m.amountMilli;
  const updated = await tx
    .updateTable('users')
    .set({ balance_milli: sql<number>`balance_milli + ${delta}` })
    .where('id', '=', m.userId)
    .$if(sign < 0, (q) => q.where('balance_milli', '>=', m.amountMilli))
    .returning('balance_milli')
    .executeTakeFirst();
  if (!updated) {
    await currentBalance(tx, m.userId); // NOT_FOUND if the user is gone
    throw new AppError(
      'INSUFFICIENT_TOKENS',
      `This needs ${toTokens(m.amountMilli)} tokens and the balance is too low.`,
    );
  }
  const entry = await tx
    .insertInto('token_ledger')
    .values({
      user_id: m.userId,
      amount_milli: delta,
      balance_after_milli: updated.balance_milli,
      reason: m.reason,
      ref: m.ref ?? null,
      idempotency_key: m.key ?? null,
      note: m.note ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { balanceMilli: updated.balance_milli, entryId: entry.id };
}

async function move(db: Db, m: Movement, sign: 1 | -1): Promise<BalanceChange> {
  assertAmount(m.amountMilli);
  if (m.key) {
    const prior = await priorEntry(db, m.key);
    if (prior) return replay(db, prior, m, sign);
  }
  try {
    const r = await db.transaction().execute(async (tx) => {
      const applied = await applyInTx(tx, m, sign);
      await m.alongside?.(tx, applied.balanceMilli);
      return applied;
    });
    notify(m.userId, r.balanceMilli);
    return { applied: true, ...r };
  } catch (err) {
    // Two requests with the same key raced: the loser's transaction rolled back whole; answer as a replay.
    if (m.key && isUniqueViolation(err)) {
      const prior = await priorEntry(db, m.key);
      if (prior) return replay(db, prior, m, sign);
    }
    throw err;
  }
}

async function replay(db: Db, prior: LedgerEntry, m: Movement, sign: 1 | -1): Promise<BalanceChange> {
  // A replay is the same request again: same user, same amount, same kind. Anything else reusing the key is a
  // mistake the caller must hear about, not a silent no-op.
  if (prior.user_id !== m.userId || Number(prior.amount_milli) !== sign * m.amountMilli || prior.reason !== m.reason) {
    throw new AppError('CONFLICT', 'This idempotency key was already used for a different request.');
  }
  return { applied: false, balanceMilli: await currentBalance(db, m.userId), entryId: prior.id };
}

export const credit = (db: Db, m: Movement): Promise<BalanceChange> => move(db, m, 1);
export const debit = (db: Db, m: Movement): Promise<BalanceChange> => move(db, m, -1);

/** For callers already in a transaction (e.g. registration grants the initial balance with the user row). */
export async function creditInTx(tx: DbOrTx, m: Movement): Promise<number> {
  assertAmount(m.amountMilli);
  return (await applyInTx(tx, m, 1)).balanceMilli;
}

export async function getBalance(db: DbOrTx, userId: string): Promise<number> {
  return currentBalance(db, userId);
}

export interface LedgerPage {
  readonly entries: LedgerEntry[];
  /** Pass as `before` to get the next (older) page; undefined on the last page. */
  readonly nextCursor: string | undefined;
}

export async function listLedger(db: DbOrTx, userId: string, limit: number, before?: number): Promise<LedgerPage> {
  const rows = await db
    .selectFrom('token_ledger')
    .selectAll()
    .where('user_id', '=', userId)
    .$if(before !== undefined, (q) => q.where('id', '<', before!))
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const entries = rows.slice(0, limit);
  const last = entries.at(-1);
  return { entries, nextCursor: rows.length > limit && last ? String(last.id) : undefined };
}

// ---------------------------------------------------------------- reservations (live sessions, jobs)

export interface ReservationState {
  readonly id: string;
  readonly heldMilli: number;
  readonly chargedMilli: number;
  readonly refundedMilli: number;
  /** Held but neither charged nor refunded. */
  readonly availableMilli: number;
}

/**
 * Holds `amountMilli` of the user's balance for `ref` (e.g. `job:<id>`). With `reservationId` it adds to an
 * existing hold (live sessions reserve ahead in small blocks). Throws INSUFFICIENT_TOKENS and holds nothing
 * when the balance is short.
 */
export async function reserve(
  db: Db,
  r: { userId: string; amountMilli: number; ref: string; key: string; reservationId?: string },
): Promise<ReservationState> {
  assertAmount(r.amountMilli);
  const prior = await priorEntry(db, r.key);
  if (prior) {
    if (prior.user_id !== r.userId) throw new AppError('CONFLICT', 'This idempotency key was already used.');
    return reservationByRefKey(db, r.reservationId, r.ref, r.userId);
  }
  try {
    const state = await db.transaction().execute(async (tx) => {
      const { balanceMilli } = await applyInTx(tx, { ...r, reason: 'reserve' }, -1);
      let id = r.reservationId;
      if (id === undefined) {
        const row = await tx
          .insertInto('token_reservations')
          .values({ user_id: r.userId, ref: r.ref, held_milli: r.amountMilli })
          .returning('id')
          .executeTakeFirstOrThrow();
        id = row.id;
      } else {
        const row = await tx
          .updateTable('token_reservations')
          .set({ held_milli: sql<number>`held_milli + ${r.amountMilli}` })
          .where('id', '=', id)
          .where('user_id', '=', r.userId)
          .returning('id')
          .executeTakeFirst();
        if (!row) throw new AppError('NOT_FOUND', 'Reservation not found.');
      }
      return { id, balanceMilli };
    });
    notify(r.userId, state.balanceMilli);
    return getReservation(db, state.id);
  } catch (err) {
    if (isUniqueViolation(err)) return reservationByRefKey(db, r.reservationId, r.ref, r.userId);
    throw err;
  }
}

/** Adds to an existing hold; false (nothing held) when the balance does not cover it. Idempotent by `key`. */
export async function tryHoldMore(db: Db, r: { userId: string; reservationId: string; ref: string; key: string; amountMilli: number }): Promise<boolean> {
  if (r.amountMilli === 0) return true;
  try {
    await reserve(db, r);
    return true;
  } catch (err) {
    if (isAppError(err) && err.code === 'INSUFFICIENT_TOKENS') return false;
    throw err;
  }
}

async function reservationByRefKey(db: Db, id: string | undefined, ref: string, userId: string): Promise<ReservationState> {
  if (id !== undefined) return getReservation(db, id);
  const row = await db
    .selectFrom('token_reservations')
    .select('id')
    .where('ref', '=', ref)
    .where('user_id', '=', userId)
    .orderBy('created_at', 'asc')
    .executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', 'Reservation not found.');
  return getReservation(db, row.id);
}

export async function getReservation(db: DbOrTx, id: string): Promise<ReservationState> {
  const row = await db.selectFrom('token_reservations').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', 'Reservation not found.');
  return {
    id: row.id,
    heldMilli: row.held_milli,
    chargedMilli: row.charged_milli,
    refundedMilli: row.refunded_milli,
    availableMilli: row.held_milli - row.charged_milli - row.refunded_milli,
  };
}

/**
 * Spends `amountMilli` of a hold, once per key (e.g. `job:<id>:item:<n>`). Returns false when the key was
 * already charged. Throws INSUFFICIENT_TOKENS when the hold has less than that left.
 */
export async function charge(db: Db, c: { reservationId: string; amountMilli: number; key: string }): Promise<boolean> {
  try {
    return await db.transaction().execute((tx) => chargeInTx(tx, c));
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

/**
 * `charge` inside the caller's transaction, so a charge can commit together with the work it pays for (a job
 * item's results): either both are recorded or neither is.
 */
export async function chargeInTx(tx: DbOrTx, c: { reservationId: string; amountMilli: number; key: string }): Promise<boolean> {
  assertAmount(c.amountMilli);
  const inserted = await tx
    .insertInto('token_charges')
    .values({ idempotency_key: c.key, reservation_id: c.reservationId, amount_milli: c.amountMilli })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returning('idempotency_key')
    .executeTakeFirst();
  if (!inserted) return false;
  const updated = await tx
    .updateTable('token_reservations')
    .set({ charged_milli: sql<number>`charged_milli + ${c.amountMilli}` })
    .where('id', '=', c.reservationId)
    .where(sql<boolean>`held_milli - charged_milli - refunded_milli >= ${c.amountMilli}`)
    .returning('id')
    .executeTakeFirst();
  if (!updated) throw new AppError('INSUFFICIENT_TOKENS', 'The reserved tokens are used up.');
  return true;
}

/**
 * Several `chargeInTx` in one statement, for work committed in batches (a batch of a job's items): each key is
 * charged at most once, whatever was charged before under it; returns the milli-tokens charged now. Throws
 * INSUFFICIENT_TOKENS when the hold cannot cover the new charges (the caller's transaction then rolls back).
 */
export async function chargeManyInTx(tx: DbOrTx, reservationId: string, items: readonly { key: string; amountMilli: number }[]): Promise<number> {
  for (const i of items) assertAmount(i.amountMilli);
  if (items.length === 0) return 0;
  const inserted = await tx
    .insertInto('token_charges')
    .values(items.map((i) => ({ idempotency_key: i.key, reservation_id: reservationId, amount_milli: i.amountMilli })))
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returning('amount_milli')
    .execute();
  const total = inserted.reduce((n, r) => n + Number(r.amount_milli), 0);
  if (total === 0) return 0;
  const updated = await tx
    .updateTable('token_reservations')
    .set({ charged_milli: sql<number>`charged_milli + ${total}` })
    .where('id', '=', reservationId)
    .where(sql<boolean>`held_milli - charged_milli - refunded_milli >= ${total}`)
    .returning('id')
    .executeTakeFirst();
  if (!updated) throw new AppError('INSUFFICIENT_TOKENS', 'The reserved tokens are used up.');
  return total;
}

/**
 * Returns the unspent part of a hold to the balance (all of it, or `amountMilli`), once per key.
 * Returns the amount refunded (0 when nothing was left or the key was used).
 */
export async function refund(db: Db, r: { reservationId: string; key: string; amountMilli?: number }): Promise<number> {
  const prior = await priorEntry(db, r.key);
  if (prior) return 0;
  try {
    const result = await db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('token_reservations')
        .selectAll()
        .where('id', '=', r.reservationId)
        .forUpdate()
        .executeTakeFirst();
      if (!row) throw new AppError('NOT_FOUND', 'Reservation not found.');
      const available = row.held_milli - row.charged_milli - row.refunded_milli;
      const amount = Math.min(available, r.amountMilli ?? available);
      if (amount <= 0) return { amount: 0, userId: row.user_id, balanceMilli: undefined };
      await tx
        .updateTable('token_reservations')
        .set({ refunded_milli: sql<number>`refunded_milli + ${amount}` })
        .where('id', '=', row.id)
        .execute();
      const { balanceMilli } = await applyInTx(
        tx,
        { userId: row.user_id, amountMilli: amount, reason: 'refund', ref: row.ref, key: r.key },
        1,
      );
      return { amount, userId: row.user_id, balanceMilli };
    });
    if (result.balanceMilli !== undefined) notify(result.userId, result.balanceMilli);
    return result.amount;
  } catch (err) {
    if (isUniqueViolation(err)) return 0;
    throw err;
  }
}
