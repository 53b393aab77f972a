/**
 * An administrator's correction of a balance: a signed amount with a reason, a ledger entry of its own kind
 * (`adjustment`, the reason as its note), never below zero, and exactly once per `Idempotency-Key` (the ledger's
 * unique key `adjust:<key>`; a retry answers with the balance as it is). The audit entry commits with it.
 */
import type { Db } from '../db/schema.js';
import { AppError, isAppError } from '../errors.js';
import { parseTokenAmount, toTokens } from '../tokens/amount.js';
import { credit, debit } from '../tokens/ledger.js';
import { audit, type Actor } from './audit.js';
import { findUserByEmail, normaliseEmail } from './users.js';

export const IDEMPOTENCY_KEY = /^[\w.:-]{1,128}$/;
export const MAX_REASON = 500;

export async function adjustBalance(db: Db, actor: Actor, body: Record<string, unknown>, key: string | undefined): Promise<{ email: string; balance: number; applied: boolean }> {
  const email = normaliseEmail(body['email']);
  const signed = typeof body['amount'] === 'number' && Number.isFinite(body['amount']) ? body['amount'] : undefined;
  const amountMilli = signed === undefined || signed === 0 ? undefined : parseTokenAmount(Math.abs(signed));
  if (signed === undefined || amountMilli === undefined || amountMilli <= 0) {
    throw new AppError('VALIDATION_FAILED', 'amount must be a non-zero number of tokens (negative to take tokens away) with at most 3 decimals.');
  }
  const reason = typeof body['reason'] === 'string' ? body['reason'].trim() : '';
  if (reason.length === 0 || reason.length > MAX_REASON) throw new AppError('VALIDATION_FAILED', `reason is required: 1–${MAX_REASON} characters saying why.`);
  if (key === undefined || !IDEMPOTENCY_KEY.test(key)) {
    throw new AppError('VALIDATION_FAILED', 'An Idempotency-Key header is required: 1–128 characters of letters, digits, _ . : - (the same key for a retry).');
  }
  const user = await findUserByEmail(db, email);
  if (!user || user.deleted_at) throw new AppError('NOT_FOUND', 'No user with that email.');
  const movement = {
    userId: user.id,
    amountMilli,
    reason: 'adjustment' as const,
    ref: actor.id ? `admin:${actor.id}` : actor.name,
    key: `adjust:${key}`,
    note: reason,
    alongside: (tx: Parameters<typeof audit>[0], balanceMilli: number) =>
      audit(tx, { actor, action: 'tokens.adjusted', targetId: user.id, target: user.email, detail: { amount: signed, reason, balance: toTokens(balanceMilli) } }),
  };
  try {
    const r = signed > 0 ? await credit(db, movement) : await debit(db, movement);
    return { email: user.email, balance: toTokens(r.balanceMilli), applied: r.applied };
  } catch (err) {
    if (isAppError(err) && err.code === 'INSUFFICIENT_TOKENS') {
      throw new AppError('CONFLICT', `The balance of ${user.email} is ${toTokens(user.balance_milli)} tokens: an adjustment cannot take it below zero.`);
    }
    throw err;
  }
}
