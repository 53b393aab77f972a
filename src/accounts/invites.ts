/**
 * One-time invite codes for REGISTRATION=invite: an admin asks for one for an email address; the code (160
 * random bits, shown once; only its SHA-256 is kept) lets that address register once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import type { DbOrTx } from '../db/schema.js';

const hashOf = (code: string): string => createHash('sha256').update(code).digest('hex');

export async function createInvite(db: DbOrTx, email: string, createdBy: string | undefined): Promise<{ id: string; code: string }> {
  const code = `inv_${randomBytes(20).toString('base64url')}`;
  const row = await db.insertInto('invites').values({ code_hash: hashOf(code), email, created_by: createdBy ?? null }).returning('id').executeTakeFirstOrThrow();
  return { id: row.id, code };
}

/**
 * Marks the invite used by `userId` (inside the registration's transaction, so a failed registration leaves it
 * unused). Refuses an unknown code, one for another address, or one used already: the same answer for all three.
 */
export async function consumeInvite(tx: DbOrTx, code: unknown, email: string, userId: string): Promise<void> {
  const refused = new AppError('FORBIDDEN', 'This invite code is not valid (unknown, for another address, or used already).');
  if (typeof code !== 'string' || code.length === 0 || code.length > 200) throw refused;
  const used = await tx
    .updateTable('invites')
    .set({ used_at: new Date(), used_by: userId })
    .where('code_hash', '=', hashOf(code))
    .where('email', '=', email)
    .where('used_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (!used) throw refused;
}
