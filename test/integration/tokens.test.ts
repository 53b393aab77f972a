import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/accounts/users.js';
import type { Db } from '../../src/db/schema.js';
import { charge, credit, debit, getBalance, getReservation, refund, reserve } from '../../src/tokens/ledger.js';
import { createTestDatabase } from '../helpers/db.js';

let db: Db;
let drop: () => Promise<void>;

beforeAll(async () => {
  ({ db, drop } = await createTestDatabase());
});
afterAll(async () => drop());

async function newUser(initialMilli = 10_000): Promise<string> {
  const u = await createUser(db, { email: `t${Math.random().toString(36).slice(2)}@example.com`, password: 'password123', initialMilli });
  return u.id;
}

async function ledgerSum(userId: string): Promise<number> {
  const r = await db
    .selectFrom('token_ledger')
    .select(sql<string>`coalesce(sum(amount_milli), 0)`.as('s'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(r.s);
}

describe('token ledger against a real PostgreSQL', () => {
  it('1,000 concurrent 0.75-token debits on 10 tokens: exactly 13 succeed, 0.25 left, ledger agrees', async () => {
    const userId = await newUser(10_000);
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) => debit(db, { userId, amountMilli: 750, reason: 'charge', ref: 'test', key: `race:${userId}:${i}` })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(ok).toHaveLength(13);
    expect(refused).toHaveLength(987);
    for (const r of refused) expect((r).reason).toMatchObject({ code: 'INSUFFICIENT_TOKENS' });
    expect(await getBalance(db, userId)).toBe(250);
    // The ledger holds the initial grant plus 13 debits and sums to the balance.
    expect(await ledgerSum(userId)).toBe(250);
    const debits = await db.selectFrom('token_ledger').select('amount_milli').where('user_id', '=', userId).where('reason', '=', 'charge').execute();
    expect(debits).toHaveLength(13);
    expect(debits.reduce((a, d) => a + d.amount_milli, 0)).toBe(250 - 10_000);
  });

  it('the same idempotency key credits once, even when sent concurrently', async () => {
    const userId = await newUser(0);
    const same = await Promise.all(
      Array.from({ length: 20 }, () => credit(db, { userId, amountMilli: 5000, reason: 'top_up', key: `k:${userId}` })),
    );
    expect(same.filter((r) => r.applied)).toHaveLength(1);
    expect(await getBalance(db, userId)).toBe(5000);
    const again = await credit(db, { userId, amountMilli: 5000, reason: 'top_up', key: `k:${userId}` });
    expect(again).toMatchObject({ applied: false, balanceMilli: 5000 });
    expect(await ledgerSum(userId)).toBe(5000);
  });

  it('a key reused for another user is a conflict, not a silent success', async () => {
    const a = await newUser(0);
    const b = await newUser(0);
    await credit(db, { userId: a, amountMilli: 1000, reason: 'top_up', key: `shared:${a}` });
    await expect(credit(db, { userId: b, amountMilli: 1000, reason: 'top_up', key: `shared:${a}` })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await getBalance(db, b)).toBe(0);
  });

  it('the database refuses a negative balance even without the conditional update', async () => {
    const userId = await newUser(1000);
    await expect(db.updateTable('users').set({ balance_milli: -1 }).where('id', '=', userId).execute()).rejects.toThrow(/check/i);
  });

  it('the ledger is append-only', async () => {
    const userId = await newUser(1000);
    await expect(db.updateTable('token_ledger').set({ reason: 'x' }).where('user_id', '=', userId).execute()).rejects.toThrow(/append-only/);
    await expect(db.deleteFrom('token_ledger').where('user_id', '=', userId).execute()).rejects.toThrow(/append-only/);
  });

  it('reserve → charge per item once → refund the rest; the ledger shows reserve − refund = charged', async () => {
    const userId = await newUser(10_000);
    const res = await reserve(db, { userId, amountMilli: 7500, ref: 'job:1', key: `job:1:reserve:${userId}` });
    expect(res).toMatchObject({ heldMilli: 7500, availableMilli: 7500 });
    expect(await getBalance(db, userId)).toBe(2500);

    // Item 0..5 charged; items 2 and 3 charged twice (a retried worker): counted once.
    for (const i of [0, 1, 2, 3, 2, 3, 4, 5]) await charge(db, { reservationId: res.id, amountMilli: 750, key: `job:1:item:${i}:${userId}` });
    const mid = await getReservation(db, res.id);
    expect(mid.chargedMilli).toBe(6 * 750);

    expect(await refund(db, { reservationId: res.id, key: `job:1:refund:${userId}` })).toBe(3000);
    expect(await refund(db, { reservationId: res.id, key: `job:1:refund:${userId}` })).toBe(0);
    expect(await getBalance(db, userId)).toBe(10_000 - 4500);
    expect(await ledgerSum(userId)).toBe(10_000 - 4500);

    // Nothing left in the hold: a further charge is refused.
    await expect(charge(db, { reservationId: res.id, amountMilli: 750, key: `job:1:item:6:${userId}` })).rejects.toMatchObject({
      code: 'INSUFFICIENT_TOKENS',
    });
  });

  it('a reservation larger than the balance holds nothing', async () => {
    const userId = await newUser(1000);
    await expect(reserve(db, { userId, amountMilli: 1001, ref: 'job:2', key: `job:2:${userId}` })).rejects.toMatchObject({
      code: 'INSUFFICIENT_TOKENS',
    });
    expect(await getBalance(db, userId)).toBe(1000);
    const holds = await db.selectFrom('token_reservations').selectAll().where('user_id', '=', userId).execute();
    expect(holds).toHaveLength(0);
  });

  it('live sessions can top a reservation up in blocks', async () => {
    const userId = await newUser(3000);
    const first = await reserve(db, { userId, amountMilli: 1000, ref: 'live:1', key: `live:1:block:0:${userId}` });
    const second = await reserve(db, { userId, amountMilli: 1000, ref: 'live:1', key: `live:1:block:1:${userId}`, reservationId: first.id });
    expect(second).toMatchObject({ id: first.id, heldMilli: 2000 });
    // Replaying a block's key holds nothing more.
    await reserve(db, { userId, amountMilli: 1000, ref: 'live:1', key: `live:1:block:1:${userId}`, reservationId: first.id });
    expect(await getBalance(db, userId)).toBe(1000);
  });
});
