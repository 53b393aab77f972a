/**
 * The audit log: every admin action (who, what, on whom, with a detail) and the security events that matter
 * afterwards (bursts of failed sign-ins, API keys created and revoked, accounts disabled). Append-only from the
 * product's side; read newest first, a page at a time.
 */
import type { DbOrTx } from '../db/schema.js';

export type AuditAction =
  | 'user.role_changed'
  | 'user.disabled'
  | 'user.enabled'
  | 'user.deleted'
  | 'tokens.top_up'
  | 'tokens.adjusted'
  | 'invite.created'
  | 'invite.used'
  | 'login.failed_burst'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'node.drained';

export interface Actor {
  /** A user, or undefined for the command line or the server itself. */
  readonly id?: string;
  /** The user's email, `cli:<os user>`, or `server`. */
  readonly name: string;
}

export interface AuditInput {
  readonly actor: Actor;
  readonly action: AuditAction;
  readonly targetId?: string | null;
  readonly target?: string | null;
  readonly detail?: Record<string, unknown>;
}

export async function audit(db: DbOrTx, e: AuditInput): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      actor_id: e.actor.id ?? null,
      actor: e.actor.name,
      action: e.action,
      target_id: e.targetId ?? null,
      target: e.target ?? null,
      detail: JSON.stringify(e.detail ?? {}),
    })
    .execute();
}

export interface PublicAuditEntry {
  id: string;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
  createdAt: string;
}

/** Newest first; `before` is the `next` of the previous page. */
export async function listAudit(db: DbOrTx, limit: number, before?: number): Promise<{ entries: PublicAuditEntry[]; next?: string }> {
  const rows = await db
    .selectFrom('audit_log')
    .selectAll()
    .$if(before !== undefined, (q) => q.where('id', '<', before!))
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  const entries = page.map((r) => ({ id: String(r.id), actor: r.actor, action: r.action, target: r.target, detail: r.detail, createdAt: r.created_at.toISOString() }));
  return rows.length > limit ? { entries, next: String(page.at(-1)!.id) } : { entries };
}
